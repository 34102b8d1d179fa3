import Hummingbird

/// Answers a known path asked with another method `405` with `Allow`, where
/// the router alone would say `404` — which claims the path does not exist.
/// Only the router's misses are looked at, so served requests pay nothing.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Path patterns split into segments; `:name` matches any one segment.
    let routes: [(method: HTTPRequest.Method, segments: [Substring])]

    init(routes: [(method: HTTPRequest.Method, path: String)]) {
        self.routes = routes.map { ($0.method, $0.path.split(separator: "/")) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let miss as HTTPError where miss.status == .notFound {
            let method = request.method == .head ? .get : request.method
            let segments = request.uri.path.split(separator: "/")
            var allowed: [HTTPRequest.Method] = []
            for route in routes where Self.matches(route.segments, segments) && !allowed.contains(route.method) { allowed.append(route.method) }
            guard !allowed.isEmpty, !allowed.contains(method) else { throw miss }
            throw APIError.methodNotAllowed(allowed.contains(.get) ? allowed + [.head] : allowed)
        }
    }

    static func matches(_ pattern: [Substring], _ segments: [Substring]) -> Bool {
        pattern.count == segments.count && zip(pattern, segments).allSatisfy { $0.hasPrefix(":") || $0 == $1 }
    }
}
