import Foundation
import OnceEngine
import Testing

/// SPEC §3: path parameters are percent-decoded (RFC 3986); `+` stays a plus
/// sign; a malformed escape or bytes that are not UTF-8 are a 400.
@Suite(.serialized) struct PathEncodingTests {
    static let base = "/v1/\(Daemon.workspace)/live"
    static let ids = ["Ada Lovelace", "a+b", "a b", "ada@example.com", "a/b", "100%", "ex%C3%A4mple", "exämple",
                      "Ada Lovelace+1@exämple.com", "😀 emoji", "?#[]!$&'()*,;=", String(repeating: "é", count: 255)]

    /// Every byte outside RFC 3986's unreserved set escaped, as a strict client sends it.
    static func encoded(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn:
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"))!
    }

    @Test(arguments: TestDataSet.Kind.allCases)
    func encodedIdsReadTheProfileTheyName(store: TestDataSet.Kind) async throws {
        let daemon = try await Daemon.start(store)
        for (index, id) in Self.ids.enumerated() {
            let body = JSON.object(JSONObject([.init("distinct_id", .string(id)), .init("$set", .object(JSONObject([.init("n", .integer(Int64(index)))])))]))
            #expect(try await daemon.post("\(Self.base)/profiles/properties/set", body.text).status == 202, "\(id)")
        }
        for (index, id) in Self.ids.enumerated() {
            let reply = try await daemon.get("\(Self.base)/profiles/\(Self.encoded(id))")
            #expect(reply.status == 200, "\(id): \(reply.body)")
            #expect(reply.json?["distinct_id"] == .string(id))
            #expect(reply.json?["properties"]?.objectValue?["n"] == .integer(Int64(index)), "\(id) read another profile")
        }
        // `+` is a plus sign, never a space; an @ or a + may also come unescaped.
        #expect(try await daemon.get("\(Self.base)/profiles/a+b").json?["properties"]?.objectValue?["n"] == .integer(1))
        #expect(try await daemon.get("\(Self.base)/profiles/ada@example.com").status == 200)
        // A request id may be escaped too.
        let write = try await daemon.post("\(Self.base)/profiles/properties/set", #"{"$set": {"x": 1}, "distinct_id": "r"}"#)
        let requestID = try #require(write.json?["request_id"]?.stringValue)
        #expect(try await daemon.get("\(Self.base)/requests/\(requestID.replacingOccurrences(of: "-", with: "%2D"))").status == 200)
    }

    @Test(arguments: ["%zz", "a%4", "%", "%FF", "%C3", "%ED%A0%80", "ok%2"])
    func malformedEscapesAreABadRequest(segment: String) async throws {
        let daemon = try await Daemon.start()
        let reply = try await offload {
            try RawHTTP.exchange(daemon.port, "GET \(Self.base)/profiles/\(segment) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 + "Authorization: Bearer \(Daemon.key)\r\nConnection: close\r\n\r\n")
        }
        #expect(reply?.status == 400, "\(segment): \(String(describing: reply))")
        #expect(reply?.body.contains("percent-escape") == true)
        // Without a key, the same path is a 401 like any other: nothing is told before authentication.
        let anonymous = try await offload {
            try RawHTTP.exchange(daemon.port, "GET \(Self.base)/profiles/\(segment) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        }
        #expect(anonymous?.status == 401)
    }

    /// PostgreSQL's text cannot hold U+0000, so no store takes it (it was a 500 there):
    /// a distinct_id with one is a 400, a name or value with one is ignored_invalid.
    @Test(arguments: TestDataSet.Kind.allCases)
    func nulIsRefusedAlikeOnEveryStore(store: TestDataSet.Kind) async throws {
        let daemon = try await Daemon.start(store)
        let set = "\(Self.base)/profiles/properties/set"
        let id = try await daemon.post(set, #"{"$set": {"a": 1}, "distinct_id": "a\u0000b"}"#)
        #expect(id.status == 400 && id.body.contains("U+0000"), "\(id.body)")
        let write = try await daemon.post(set, #"{"$set": {"n\u0000": 1, "v": "x\u0000y", "l": ["\u0000"], "ok": 1}, "distinct_id": "nul"}"#)
        #expect(write.status == 202, "\(write.body)")
        let record = try await daemon.get("\(Self.base)/requests/\(write.json?["request_id"]?.stringValue ?? "")")
        guard case .array(let entries)? = record.json?["results"], let results = entries.first?.objectValue?["properties"]?.objectValue else {
            Issue.record("no results: \(record.body)")
            return
        }
        for name in ["n\u{0}", "v", "l"] {
            #expect(results[name]?.objectValue?["outcome"] == .string("ignored_invalid"), "\(name): \(record.body)")
        }
        #expect(try await daemon.get("\(Self.base)/profiles/nul").json?["properties"]?.objectValue?.keys == ["ok"])
        let path = try await offload {
            try RawHTTP.exchange(daemon.port, "GET \(Self.base)/profiles/a%00b HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 + "Authorization: Bearer \(Daemon.key)\r\nConnection: close\r\n\r\n")
        }
        #expect(path?.status == 400, "\(String(describing: path))")
    }

    @Test func anEncodedWorkspaceIsItsOwnName() async throws {
        let daemon = try await Daemon.start()
        #expect(try await daemon.post("\(Self.base)/profiles/properties/set", #"{"$set": {"x": 1}, "distinct_id": "w"}"#).status == 202)
        // FY12345678 with its digits escaped names the same workspace; a broken escape names none.
        #expect(try await daemon.get("/v1/FY%31%32345678/live/profiles/w").status == 200)
        #expect(try await daemon.get("/v1/FY%31%32345678/live/profiles/w", key: Daemon.otherKey).status == 401)
        let broken = try await offload {
            try RawHTTP.exchange(daemon.port, "GET /v1/FY%zz/live/profiles/w HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 + "Authorization: Bearer \(Daemon.key)\r\nConnection: close\r\n\r\n")
        }
        #expect(broken?.status == 401)
    }
}
