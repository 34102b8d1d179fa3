import Hummingbird
import Synchronization

/// Bounds the API requests being worked on at once. Past the bound a request
/// is answered `503 overloaded` with `Retry-After` at once, before its body is
/// read: under more load than the machine can take, memory and latency stay
/// bounded and clients learn to back off, instead of every request slowing down
/// in an ever longer queue. `/health` and `/metrics` are always admitted, so
/// an overloaded daemon can still be watched.
struct AdmissionMiddleware<Context: RequestContext>: RouterMiddleware {
    final class Counter: Sendable {
        let inFlight = Atomic<Int>(0)
    }

    let limit: Int
    let counter = Counter()

    static var overloaded: APIError {
        APIError(status: .serviceUnavailable, code: "overloaded",
                 message: "too many requests are in progress; the request was not applied", retryAfter: 1)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/v1/") else { return try await next(request, context) }
        let admitted = counter.inFlight.wrappingAdd(1, ordering: .relaxed).newValue <= limit
        defer { counter.inFlight.wrappingSubtract(1, ordering: .relaxed) }
        guard admitted else { throw Self.overloaded }
        return try await next(request, context)
    }
}
