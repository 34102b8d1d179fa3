import Hummingbird
import Logging
import OnceEngine

/// An error as the API shows it: `{"error": {"code", "message"}}` with a status (SPEC §3).
struct APIError: HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    /// Extra fields beside code and message (a rule rejection names its rule and reason).
    var details: [JSONObject.Member] = []
    /// Seconds for a `Retry-After` header (503s). Such a reply also closes the
    /// connection: a client that ignores `Retry-After` pays a reconnect, which
    /// paces it (closed-loop load with no backoff kept only a sixth of the
    /// throughput otherwise, the cores busy refusing), and an overloaded daemon
    /// sheds the connection too.
    var retryAfter: Int?
    /// The path's methods, for the `Allow` header a 405 must carry.
    var allow: [HTTPRequest.Method]?

    static func badRequest(_ message: String) -> APIError { APIError(status: .badRequest, code: "bad_request", message: message) }
    static let unauthorized = APIError(status: .unauthorized, code: "unauthorized", message: "missing or invalid API key")
    static func notFound(_ message: String) -> APIError { APIError(status: .notFound, code: "not_found", message: message) }
    static func methodNotAllowed(_ allow: [HTTPRequest.Method]) -> APIError {
        APIError(status: .methodNotAllowed, code: "method_not_allowed",
                 message: "this path takes \(allow.map(\.rawValue).joined(separator: ", "))", allow: allow)
    }

    static func tooLarge(limit: Int) -> APIError {
        APIError(status: .contentTooLarge, code: "payload_too_large", message: "the body is larger than \(limit) bytes")
    }

    static func rejected(_ rejection: RuleRejection) -> APIError {
        APIError(status: .badRequest, code: "rejected_by_rule", message: rejection.description,
                 details: [.init("rule", .string(rejection.rule)), .init("reason", .string(rejection.reason))])
    }

    /// The API's form of any error a handler throws.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError: return error
        case let error as DecodeError: return .badRequest(error.message)
        case let error as JSONSyntaxError: return .badRequest("malformed JSON: \(error)")
        case let error as RuleRejection: return .rejected(error)
        case let error as HTTPError:
            return APIError(status: error.status, code: error.status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_"),
                            message: error.body ?? error.status.reasonPhrase)
        case StoreError.closed: return APIError(status: .serviceUnavailable, code: "unavailable", message: "shutting down", retryAfter: 1)
        case StoreError.overloaded:
            return APIError(status: .serviceUnavailable, code: "overloaded",
                            message: "too many requests are waiting; the request was not applied", retryAfter: 1)
        case StoreError.degraded(let reason):
            return APIError(status: .serviceUnavailable, code: "unavailable",
                            message: "writes are refused until the daemon restarts after a disk failure (\(reason)); "
                                + "the request was not applied", retryAfter: 1)
        case StoreError.queryTimeout:
            return APIError(status: .serviceUnavailable, code: "query_timeout",
                            message: "the query ran past --query-timeout; narrow the filter or retry later", retryAfter: 1)
        case StoreError.unavailable:
            return APIError(status: .serviceUnavailable, code: "unavailable",
                            message: "the database is unreachable; the request was not applied", retryAfter: 1)
        default: return APIError(status: .internalServerError, code: "internal", message: "the request was not applied")
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// `{"error": {"code", "message", …}}`.
    var body: [UInt8] {
        var bytes: [UInt8] = []
        JSON.object(JSONObject([.init("error", .object(JSONObject(
            [.init("code", .string(code)), .init("message", .string(message))] + details)))])).write(to: &bytes)
        return bytes
    }

    /// Content-Type and what the status asks for beside it.
    var headers: HTTPFields {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        // After a 413 the rest of the body may still be on its way: the connection cannot carry another request.
        if retryAfter != nil || status == .contentTooLarge { headers[.connection] = "close" }
        if let allow { headers[.allow] = allow.map(\.rawValue).joined(separator: ", ") }
        return headers
    }

    /// The API's form of `error`, logged at warning when it is a failure nobody
    /// meant: overload and a degraded store (logged once, at error, when it
    /// happened) are answered by design and can come thousands of times a second.
    static func reported(_ error: any Error, to logger: Logger) -> APIError {
        let apiError = from(error)
        let expected: Bool
        switch error {
        case StoreError.overloaded, StoreError.degraded: expected = true
        default: expected = apiError.code == "overloaded"
        }
        if !expected && (apiError.status == .internalServerError || apiError.status == .serviceUnavailable) {
            logger.warning("request failed", metadata: ["error": "\(error)"])
        }
        return apiError
    }
}

/// Turns every thrown error — the handlers', and Hummingbird's own 404 and 413 — into the API's error body.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return try APIError.reported(error, to: context.logger).response(from: request, context: context)
        }
    }
}

extension Response {
    /// A JSON response.
    static func json(_ body: JSON, status: HTTPResponse.Status = .ok) -> Response {
        var bytes: [UInt8] = []
        body.write(to: &bytes)
        return json(bytes, status: status)
    }

    /// A body already written as JSON text.
    static func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        json(ByteBuffer(bytes: bytes), status: status)
    }

    static func json(_ buffer: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: buffer))
    }
}
