import Hummingbird
import NIOCore
import OnceEngine

/// The single-op write routes' work, whichever way a request came in (the
/// event loop's ``EventLoopWrites`` or Hummingbird's router): authorize,
/// decode, rules, validation, commit. Hummingbird's route throws the error;
/// the event loop renders it with ``APIError/from(_:)`` like the middleware.
struct WriteEndpoint: Sendable {
    let engine: Engine
    let keys: KeyRing
    /// The candidate rules, offered every write and what the live rules made of it (SPEC §10).
    let shadow: ShadowRules?
    let limits: RequestLimits

    /// One write as it arrived: the path's raw parameters, the bearer header, the body.
    struct Call: Sendable {
        var op: Op
        var workspace: Substring
        var version: Substring
        var authorization: String?
        var body: ByteBuffer
    }

    /// Answers `call` in `done`, without waiting where it can: when the key and
    /// the namespace's types are already known, the rules run in the caller's
    /// thread and `done` runs on the commit thread. Otherwise a task does it all.
    func answer(_ call: Call, done: @escaping @Sendable (Result<RequestRecord, any Error>) -> Void) {
        let prepared: PreparedRequest?
        let write: WriteRequest
        do {
            guard let token = API.bearerToken(call.authorization) else { throw APIError.unauthorized }
            let workspace = workspace(call)
            guard let authorized = keys.authorizesNow(token, for: workspace) else {
                return Task { done(await answer(call)) }.discard()
            }
            guard authorized else { throw APIError.unauthorized }
            write = try decode(call, workspace: workspace)
            prepared = try engine.prepareNow(write)
        } catch {
            return done(.failure(error))
        }
        guard let prepared else { return Task { done(await answer(call)) }.discard() }
        engine.submit(prepared: prepared) { [shadow] result in
            if case .success(let record) = result { shadow?.offer(write, live: prepared, id: record.id) }
            done(result)
        }
    }

    /// ``answer(_:done:)`` in a task: every step may wait.
    func answer(_ call: Call) async -> Result<RequestRecord, any Error> {
        do {
            let workspace = workspace(call)
            guard let token = API.bearerToken(call.authorization),
                  try await keys.authorizes(token, for: workspace) else { throw APIError.unauthorized }
            let write = try decode(call, workspace: workspace)
            let prepared = try await engine.prepare(write)
            let record = try await engine.submit(prepared: prepared)
            shadow?.offer(write, live: prepared, id: record.id)
            return .success(record)
        } catch {
            return .failure(error)
        }
    }

    /// The 202's body.
    static func accepted(_ record: RequestRecord, allocator: ByteBufferAllocator) -> ByteBuffer {
        var body = allocator.buffer(capacity: 56)
        body.writeString(#"{"request_id":""#)
        body.writeString(record.id.lowercaseString)
        body.writeString(#""}"#)
        return body
    }

    /// An id that does not decode names no workspace: the same 401 as a wrong key.
    private func workspace(_ call: Call) -> String {
        (try? API.pathParameter("wsid", raw: call.workspace)) ?? ""
    }

    /// The call's write; `workspace` is its decoded path parameter.
    private func decode(_ call: Call, workspace: String) throws -> WriteRequest {
        let namespace: Namespace
        do {
            namespace = try RequestDecoder.namespace(workspace: workspace, version: try API.pathParameter("version", raw: call.version))
        } catch let error as DecodeError {
            throw APIError.badRequest(error.message)
        }
        let body = try JSONParser.parse(call.body.readableBytesView)
        return WriteRequest(namespace: namespace, elements: [try RequestDecoder.element(body: body, op: call.op, limits: limits)])
    }
}

extension Task where Success == Void, Failure == Never {
    /// For a task started for its effect, whose handle nobody awaits.
    func discard() {}
}
