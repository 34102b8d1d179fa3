import Hummingbird
import Synchronization

/// Bounds the API requests being worked on at once. Past the bound a request
/// is answered `503 overloaded` with `Retry-After` at once, before its body is
/// read: under more load than the machine can take, memory and latency stay
/// bounded and clients learn to back off, instead of every request slowing down
/// in an ever longer queue. `/health` and `/metrics` are always admitted, so
/// an overloaded daemon can still be watched. One count for both ways in:
/// ``EventLoopWrites`` and Hummingbird's router.
final class Admission: Sendable {
    let limit: Int
    private let inFlight = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts a request in; false, and not counted, past the bound.
    func enter() -> Bool {
        if inFlight.wrappingAdd(1, ordering: .relaxed).newValue <= limit { return true }
        leave()
        return false
    }

    /// Counts an admitted request out.
    func leave() {
        inFlight.wrappingSubtract(1, ordering: .relaxed)
    }

    static var overloaded: APIError {
        APIError(status: .serviceUnavailable, code: "overloaded",
                 message: "too many requests are in progress; the request was not applied", retryAfter: 1)
    }
}

/// ``Admission`` for the requests Hummingbird routes.
struct AdmissionMiddleware<Context: RequestContext>: RouterMiddleware {
    let admission: Admission

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/v1/") else { return try await next(request, context) }
        guard admission.enter() else { throw Admission.overloaded }
        defer { admission.leave() }
        return try await next(request, context)
    }
}
