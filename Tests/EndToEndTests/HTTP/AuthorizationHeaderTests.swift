import Foundation
import Testing

/// The bearer scheme as RFC 9110 has it (its name in any case), one key per
/// request, alike on the write routes (answered on the event loop) and on the
/// router's.
@Suite struct AuthorizationHeaderTests {
    static let base = "/v1/\(Daemon.workspace)/live"

    @Test func theSchemeIsCaseInsensitiveAndOneKeyIsSent() async throws {
        let daemon = try await Daemon.start()
        let body = #"{"$once": {"a": 1}, "distinct_id": "u"}"#
        func status(_ method: String, _ path: String, _ authorization: [String]) async throws -> Int? {
            let headers = authorization.map { "Authorization: \($0)\r\n" }.joined()
            let text = method == "POST"
                ? "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(headers)Content-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                : "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(headers)Connection: close\r\n\r\n"
            return try await offload { try RawHTTP.exchange(daemon.port, text) }?.status
        }
        let key = Daemon.key
        let cases: [(headers: [String], accepted: Bool)] = [
            (["Bearer \(key)"], true), (["bearer \(key)"], true), (["BEARER \(key)"], true), (["Bearer   \(key)"], true),
            (["Bearer"], false), (["Bearer "], false), (["Basic \(key)"], false), (["Bearer\t\(key)"], false),
            (["Bearer \(key)x"], false), (["Bearer \(key)", "Bearer \(key)"], false), ([], false),
        ]
        for (headers, accepted) in cases {
            #expect(try await status("POST", "\(Self.base)/profiles/properties/set-once", headers) == (accepted ? 202 : 401), "write: \(headers)")
            #expect(try await status("GET", "\(Self.base)/profiles/u", headers) == (accepted ? 200 : 401), "read: \(headers)")
        }
    }
}
