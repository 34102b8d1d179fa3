import Foundation
import Hummingbird
import Logging
import NIOCore
import OnceEngine
import Prometheus

/// The routes of SPEC §3: decode the path and body, authorize, call the engine, shape the reply.
struct API: Sendable {
    let engine: Engine
    let keys: KeyRing
    /// The candidate rules compared on every write, if any (SPEC §10).
    let shadow: ShadowRules?
    let maxBodyBytes: Int
    let admission: Admission
    let limits: RequestLimits
    /// How long a cohort query or count may run (SPEC §8).
    let queryTimeout: Duration
    let registry: PrometheusCollectorRegistry

    /// The path segment of each single-op endpoint.
    static let paths: [Op: String] = [
        .setOnce: "set-once", .set: "set", .add: "numerical-add", .append: "list-append", .remove: "list-remove", .unset: "unset",
    ]

    func router() -> Router<BasicRequestContext> {
        let routes = self.routes
        let router = Router()
        router.middlewares.add(APIErrorMiddleware())
        router.middlewares.add(MetricsMiddleware())
        router.middlewares.add(LogRequestsMiddleware(.debug))
        router.middlewares.add(MethodNotAllowedMiddleware(routes: routes.map { ($0.method, $0.path) }))
        router.middlewares.add(AdmissionMiddleware(admission: admission))
        for route in routes {
            router.on(RouterPath(route.path), method: route.method, use: route.handler)
        }
        return router
    }

    typealias Route = (method: HTTPRequest.Method, path: String, handler: @Sendable (Request, BasicRequestContext) async throws -> Response)

    /// Every route of SPEC §3.
    private var routes: [Route] {
        let writes: [Route] = Self.paths.map { op, path in
            (.post, "/v1/:wsid/:version/profiles/properties/\(path)", { try await write(op, $0, $1) })
        }
        let others: [Route] = [
            (.post, "/v1/:wsid/:version/profiles/properties/batch", { try await batch($0, $1) }),
            (.post, "/v1/:wsid/:version/profiles/query", { try await query($0, $1) }),
            (.post, "/v1/:wsid/:version/profiles/count", { try await count($0, $1) }),
            (.get, "/v1/:wsid/:version/profiles/:distinct_id", { try await profile($0, $1, named: nil) }),
            (.delete, "/v1/:wsid/:version/profiles/:distinct_id", { try await deleteProfile($0, $1, named: nil) }),
            (.delete, "/v1/:wsid/:version/properties/:name", { try await dropProperty($0, $1) }),
            (.get, "/v1/:wsid/:version/requests/:request_id", { try await record($0, $1) }),
            (.get, "/v1/:wsid/:version/properties", { try await properties($0, $1) }),
            (.post, "/v1/:wsid/:version/rules/preview", { try await preview($0, $1) }),
            (.get, "/v1/:wsid/:version/rules/shadow", { try await shadowReport($0, $1) }),
            (.get, "/health", { _, _ in health() }),
            (.get, "/metrics", { _, _ in
                Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                         body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
            }),
        ]
        // A profile may be named like a route under profiles/ (SPEC: any distinct_id): the literal wins in the router, so it reads the same.
        var profilesNamedLikeRoutes: [Route] = []
        for name in ["query", "count", "properties"] {
            profilesNamedLikeRoutes.append((.get, "/v1/:wsid/:version/profiles/\(name)", { try await profile($0, $1, named: name) }))
            profilesNamedLikeRoutes.append((.delete, "/v1/:wsid/:version/profiles/\(name)", { try await deleteProfile($0, $1, named: name) }))
        }
        return writes + others + profilesNamedLikeRoutes
    }

    // MARK: - Writes

    /// The single-op writes as Hummingbird routes them: only what ``EventLoopWrites`` leaves to it.
    private func write(_ op: Op, _ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let call = WriteEndpoint.Call(op: op, workspace: Substring(context.parameters.get("wsid") ?? ""),
                                      version: Substring(context.parameters.get("version") ?? ""),
                                      authorization: request.headers[.authorization], body: try await bodyBytes(request))
        let record = try await writes.answer(call).get()
        return .json(WriteEndpoint.accepted(record, allocator: ByteBufferAllocator()), status: .accepted)
    }

    /// What the single-op write routes share with ``EventLoopWrites``.
    var writes: WriteEndpoint { WriteEndpoint(engine: engine, keys: keys, shadow: shadow, limits: limits) }

    /// What each connection's ``EventLoopWrites`` needs.
    func eventLoopWrites(logger: Logger) -> EventLoopWrites.Shared {
        EventLoopWrites.Shared(endpoint: writes, admission: admission, maxBodyBytes: maxBodyBytes, metrics: WriteMetrics(), logger: logger)
    }

    /// Each element is checked on its own: a bad op key is reported in its
    /// `batch` entry and skipped, the rest are applied as one atomic request.
    private func batch(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let namespace = try await authorize(request, context)
        guard case .array(let items)? = try await body(request).objectValue?["batch"] else {
            throw APIError.badRequest("the body must be {\"batch\": [...]}")
        }
        guard items.count <= RequestLimits.maxBatchElements else {
            throw APIError.badRequest("a batch holds at most \(RequestLimits.maxBatchElements) elements")
        }
        var elements: [Element] = []
        var entries: [JSON] = []
        for item in items {
            let (element, entry) = RequestDecoder.batchElement(item, limits: limits)
            if let element { elements.append(element) }
            entries.append(entry)
        }
        try limits.check(elements)
        let record = try await submit(WriteRequest(namespace: namespace, elements: elements))
        return .json(.object(JSONObject([
            .init("request_id", .string(record.id.lowercaseString)),
            .init("batch", .array(entries)),
        ])), status: .accepted)
    }

    /// Rules, validation, the store; then the shadow rules get the request and what the live rules made of it.
    private func submit(_ write: WriteRequest) async throws -> RequestRecord {
        guard let shadow else { return try await engine.submit(write) }
        let prepared = try await engine.prepare(write)
        let record = try await engine.submit(prepared: prepared)
        shadow.offer(write, live: prepared, id: record.id)
        return record
    }

    /// SPEC §9: the profile erased, durable (and on SQLite gone from the files) before the 202.
    private func deleteProfile(_ request: Request, _ context: BasicRequestContext, named: String?) async throws -> Response {
        let namespace = try await authorize(request, context)
        let distinctID: String
        do {
            distinctID = try RequestDecoder.distinctID(try named ?? pathParameter("distinct_id", context))
        } catch let error as DecodeError {
            throw APIError.badRequest(error.message)
        }
        let record = try await engine.deleteProfile(distinctID, in: namespace)
        return .json(.object(JSONObject([.init("request_id", .string(record.id.lowercaseString))])), status: .accepted)
    }

    /// SPEC §9: the property gone from every profile and its type unregistered before the 202.
    private func dropProperty(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let namespace = try await authorize(request, context)
        let name = try pathParameter("name", context)
        if let invalid = Validator.checkName(name) { throw APIError.badRequest(invalid.reason) }
        let record = try await engine.dropProperty(name, in: namespace)
        return .json(.object(JSONObject([.init("request_id", .string(record.id.lowercaseString))])), status: .accepted)
    }

    /// SPEC §10: what this write would do now, nothing written. A rule rejecting the
    /// whole request is an answer (200), not a bad request.
    private func preview(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let namespace = try await authorize(request, context)
        // A batch element's shape: {"distinct_id", "action": {op keys}}.
        guard let object = try await body(request).objectValue else { throw APIError.badRequest("the body must be a JSON object") }
        guard let action = object["action"]?.objectValue else {
            throw APIError.badRequest("action must be an object holding one or more op keys")
        }
        if let key = action.keys.first(where: { Op(bodyKey: $0) == nil }) {
            throw APIError.badRequest("unknown op key \"\(key.prefix(64))\" in action")
        }
        let element = try RequestDecoder.element(distinctID: try RequestDecoder.distinctID(in: object), opsIn: action, limits: limits)
        do {
            let outcomes = try await engine.preview(WriteRequest(namespace: namespace, elements: [element]))
            return .json(.object(JSONObject([.init("results", .array(outcomes.map(\.json)))])))
        } catch let rejection as RuleRejection {
            return .json(.object(JSONObject([.init("rejected_by_rule", .object(JSONObject([
                .init("rule", .string(rejection.rule)), .init("reason", .string(rejection.reason)),
            ])))])))
        }
    }

    /// SPEC §10: how the shadow rules compare with the live ones in the caller's namespace.
    private func shadowReport(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let namespace = try await authorize(request, context)
        guard let shadow else { throw APIError.notFound("no shadow rules: start onced serve with --shadow-rules DIR") }
        return .json(shadow.report(for: namespace).json)
    }

    // MARK: - Reads

    private func profile(_ request: Request, _ context: BasicRequestContext, named: String?) async throws -> Response {
        let namespace = try await authorize(request, context)
        let id = try named ?? pathParameter("distinct_id", context)
        let provenance = switch request.uri.queryParameters.get("provenance") {
        case nil, "false": false
        case "true": true
        default: throw APIError.badRequest("provenance must be true or false")
        }
        guard let profile = try await engine.profile(id, in: namespace) else { throw APIError.notFound("no such profile") }
        var extra: [JSONObject.Member] = []
        if provenance {
            let changes = try await engine.lastChanges(of: profile, in: namespace)
            extra.append(.init("provenance", .object(JSONObject(changes.map { .init($0.name, $0.change.json) }))))
        }
        var body: [UInt8] = []
        ProfileJSON.write(profile, to: &body, extra: extra)
        return .json(body)
    }

    /// SPEC §8: a page of the profiles a filter selects, each as GET shows it.
    private func query(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let namespace = try await authorize(request, context)
        let page = try await engine.query(try await body(request), in: namespace, timeout: queryTimeout)
        var body = Array(#"{"profiles":["#.utf8)
        for (index, profile) in page.profiles.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            ProfileJSON.write(profile, to: &body)
        }
        body.append(contentsOf: #"],"next_cursor":"#.utf8)
        (page.nextCursor.map(JSON.string) ?? .null).write(to: &body)
        body.append(UInt8(ascii: "}"))
        return .json(body)
    }

    /// SPEC §8: how many profiles a filter selects.
    private func count(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let namespace = try await authorize(request, context)
        let count = try await engine.count(try await body(request), in: namespace, timeout: queryTimeout)
        return .json(.object(JSONObject([.init("count", .integer(Int64(count)))])))
    }

    private func record(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let namespace = try await authorize(request, context)
        guard let id = UUID(uuidString: try pathParameter("request_id", context)),
              let record = try await engine.record(id, in: namespace) else { throw APIError.notFound("no such request") }
        return .json(record.json)
    }

    private func properties(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let namespace = try await authorize(request, context)
        let types = try await engine.registeredTypes(in: namespace).sorted { $0.key < $1.key }
        return .json(.object(JSONObject([.init("properties", .object(JSONObject(types.map { .init($0.key, .string($0.value.rawValue)) })))])))
    }

    private func health() -> Response {
        var rules: [JSONObject.Member] = [.init("enabled", .bool(engine.rules != nil))]
        if let runtime = engine.rules {
            rules.append(.init("generation", .integer(Int64(runtime.generation))))
            rules.append(.init("count", .integer(Int64(runtime.current.rules.count))))
            rules.append(.init("errors", .array((runtime.lastError?.errors ?? []).map { error in
                .object(JSONObject([.init("file", .string(error.file)), .init("line", .integer(Int64(error.line))),
                                    .init("message", .string(error.message))]))
            })))
        }
        // A store that refuses writes answers 503, so a load balancer takes this daemon out of rotation.
        guard let fault = engine.store.fault else {
            return .json(.object(JSONObject([.init("status", .string("ok")), .init("rules", .object(JSONObject(rules)))])))
        }
        return .json(.object(JSONObject([.init("status", .string("degraded")), .init("reason", .string(fault)),
                                         .init("rules", .object(JSONObject(rules)))])), status: .serviceUnavailable)
    }

    // MARK: - Shared steps

    /// The namespace of the path, once the bearer key is known to belong to its workspace.
    /// Any failure is the same plain 401.
    private func authorize(_ request: Request, _ context: BasicRequestContext) async throws -> Namespace {
        // An id that does not decode names no workspace: the same 401 as any other.
        let workspace = (try? pathParameter("wsid", context)) ?? ""
        guard let token = Self.bearerToken(request.headers[.authorization]),
              try await keys.authorizes(token, for: workspace) else { throw APIError.unauthorized }
        let version = try pathParameter("version", context)
        do {
            return try RequestDecoder.namespace(workspace: workspace, version: version)
        } catch {
            throw APIError.badRequest(error.message)
        }
    }

    /// The key of an `Authorization: Bearer KEY` header; nil for any other.
    static func bearerToken(_ header: String?) -> String? {
        // Bytes, not Characters: this runs for every request, and a scheme is ASCII.
        guard let header, header.utf8.count > 7,
              header.utf8.prefix(7).lazy.map(Self.asciiLowercased).elementsEqual("bearer ".utf8) else { return nil }
        // The HTTP parser already trimmed the value's ends; only the gap after "Bearer" is left.
        let token = header.utf8.dropFirst(7).drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        return token.isEmpty ? nil : String(Substring(token))
    }

    private static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    /// A path parameter, percent-decoded (RFC 3986; `+` stays a plus sign).
    /// A malformed escape, bytes that are not UTF-8 or a U+0000 are a 400.
    private func pathParameter(_ name: String, _ context: BasicRequestContext) throws -> String {
        try Self.pathParameter(name, raw: context.parameters.get(name).map { Substring($0) } ?? "")
    }

    /// ``pathParameter(_:_:)`` of a segment as it came.
    static func pathParameter(_ name: String, raw: Substring) throws -> String {
        guard let decoded = raw.utf8.contains(UInt8(ascii: "%")) ? raw.removingPercentEncoding : String(raw) else {
            throw APIError.badRequest("the path's \(name) has a malformed percent-escape or is not UTF-8")
        }
        // No stored text holds U+0000 (see `RequestDecoder.distinctID`), and PostgreSQL cannot be asked for one.
        guard !decoded.utf8.contains(0) else { throw APIError.badRequest("the path's \(name) must not contain U+0000") }
        return decoded
    }

    /// The body as JSON, refused past the size limit (413) or when malformed (400).
    private func body(_ request: Request) async throws -> JSON {
        try JSONParser.parse(try await bodyBytes(request).readableBytesView)
    }

    /// The body, refused past the size limit (413).
    private func bodyBytes(_ request: Request) async throws -> ByteBuffer {
        // A declared length past the limit is refused before any of the body is awaited.
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBodyBytes { throw tooLarge }
        var request = request
        do {
            return try await request.collectBody(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        }
    }

    private var tooLarge: APIError { .tooLarge(limit: maxBodyBytes) }
}
