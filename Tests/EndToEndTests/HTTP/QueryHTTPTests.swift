import Foundation
import OnceEngine
import Testing

/// SPEC §8 over HTTP and `onced export` over pipes, against both stores.
@Suite struct QueryHTTPTests {
    static let base = "/v1/\(Daemon.workspace)/live"

    /// The README's cohort: pro users who signed up in 2024 and have the `beta` tag.
    static let cohort = #"""
        {"and": [{"property": "plan", "op": "eq", "value": "pro"},
                 {"property": "signup", "op": "gte", "value": "2024-01-01"},
                 {"property": "signup", "op": "lt", "value": "2025-01-01"},
                 {"property": "tags", "op": "contains", "value": "beta"}]}
        """#

    static let people = #"""
        {"batch": [
          {"distinct_id": "ada", "action": {"$set": {"plan": "pro", "signup": "2024-03-01", "tags": ["beta", "early"], "seats": 3}}},
          {"distinct_id": "bob", "action": {"$set": {"plan": "pro", "signup": "2023-11-20", "tags": ["beta"]}}},
          {"distinct_id": "cy", "action": {"$set": {"plan": "free", "signup": "2024-05-05", "tags": ["beta"]}}},
          {"distinct_id": "dee", "action": {"$set": {"plan": "pro", "signup": "2024-12-31T23:00:00-02:00", "tags": ["beta"]}}},
          {"distinct_id": "query", "action": {"$set": {"plan": "pro", "signup": "2024-07-01T12:00:00Z", "tags": ["beta"], "active": true}}}
        ]}
        """#

    @Test(arguments: TestDataSet.Kind.allCases)
    func aCohortIsQueriedPagedAndCounted(store: TestDataSet.Kind) async throws {
        let daemon = try await Daemon.start(store)
        #expect(try await daemon.post("\(Self.base)/profiles/properties/batch", Self.people).status == 202)

        let first = try await daemon.post("\(Self.base)/profiles/query", #"{"where": \#(Self.cohort), "limit": 1}"#)
        #expect(first.status == 200, "\(first.body)")
        guard case .array(let profiles)? = first.json?["profiles"] else { Issue.record("\(first.body)"); return }
        #expect(profiles.map { $0.objectValue?["distinct_id"] } == [.string("ada")])
        #expect(profiles.first?.objectValue?["properties"]?.objectValue?["seats"] == .integer(3))
        #expect(profiles.first?.objectValue?.keys == ["distinct_id", "properties", "created_at", "updated_at"])
        let cursor = try #require(first.json?["next_cursor"]?.stringValue)
        let second = try await daemon.post("\(Self.base)/profiles/query",
                                           #"{"where": \#(Self.cohort), "limit": 5, "cursor": "\#(cursor)", "properties": ["plan"]}"#)
        #expect(second.json?["next_cursor"] == .null)
        // dee signed up on 2025-01-01T01:00Z; "query" is a profile like any other.
        #expect(second.body.contains(#""distinct_id":"query""#))
        #expect(second.body.contains(#""properties":{"plan":"pro"}"#))
        #expect(!second.body.contains("dee"))

        let count = try await daemon.post("\(Self.base)/profiles/count", #"{"where": \#(Self.cohort)}"#)
        #expect(count.status == 200)
        #expect(count.json?["count"] == .integer(2))
        #expect(try await daemon.post("\(Self.base)/profiles/count", "{}").json?["count"] == .integer(5))
        // A profile named like the route still reads as a profile.
        #expect(try await daemon.get("\(Self.base)/profiles/query").json?["distinct_id"] == .string("query"))
        #expect(try await daemon.get("\(Self.base)/profiles/count").status == 404)
        #expect(try await daemon.request("DELETE", "\(Self.base)/profiles/query").status == 202)
        #expect(try await daemon.get("\(Self.base)/profiles/query").status == 404)
        #expect(try await daemon.request("PUT", "\(Self.base)/profiles/query", body: "{}").headers["Allow"] == "POST, GET, DELETE, HEAD")

        // Another workspace's key sees nothing of this one.
        #expect(try await daemon.post("\(Self.base)/profiles/query", "{}", key: Daemon.otherKey).status == 401)
        let elsewhere = try await daemon.post("/v1/\(Daemon.otherWorkspace)/live/profiles/count", "{}", key: Daemon.otherKey)
        #expect(elsewhere.json?["count"] == .integer(0))
        #expect(try await daemon.terminate() == 0)
    }

    @Test func badQueriesAre400sThatSayWhyAndLeaveTheDaemonServing() async throws {
        let daemon = try await Daemon.start(.sqlite)
        #expect(try await daemon.post("\(Self.base)/profiles/properties/batch", Self.people).status == 202)
        let cases: [(String, String)] = [
            (#"{"where": {"property": "signup", "op": "gt", "value": "soon"}}"#, "condition on signup (a date property)"),
            (#"{"where": {"property": "plan", "op": "within_days", "value": 3}}"#, "within_days does not apply to string properties"),
            (#"{"where": {"property": "plan", "op": "eq", "value": "pro"}, "limit": 0}"#, "limit must be"),
            (#"{"where": {"property": "plan"}}"#, "unknown op missing"),
            ("{\"where\": " + String(repeating: "{\"not\": ", count: 200) + "{}" + String(repeating: "}", count: 201), "JSON"),
            (#"{"where": {"property": "plan", "op": "eq", "value": "pro"}"#, "malformed JSON"),
            (#"{"cursor": 42}"#, "cursor must be"),
        ]
        for (body, fragment) in cases {
            let reply = try await daemon.post("\(Self.base)/profiles/query", body)
            #expect(reply.status == 400, "\(body)")
            #expect(reply.errorCode == "bad_request")
            #expect(reply.json?["error"]?.objectValue?["message"]?.stringValue?.contains(fragment) == true, "\(reply.body)")
        }
        let oversized = #"{"where": {"property": "plan", "op": "in", "value": [\#(Array(repeating: "\"x\"", count: 1001).joined(separator: ","))]}}"#
        #expect(try await daemon.post("\(Self.base)/profiles/count", oversized).status == 400)
        #expect(try await daemon.post("\(Self.base)/profiles/count", String(repeating: " ", count: 2 * 1024 * 1024)).status == 413)
        #expect(try await daemon.post("\(Self.base)/profiles/count", "{}").json?["count"] == .integer(5))
        #expect(try await daemon.terminate() == 0)
    }

    @Test func aQueryPastTheTimeLimitIs503WithRetryAfterAndWritesGoOn() async throws {
        let daemon = try await Daemon.start(arguments: ["--query-timeout", "0.001"])
        let batch = #"{"batch": [\#((0..<1000).map { #"{"distinct_id": "u\#($0)", "action": {"$set": {"name": "person \#($0)"}}}"# }.joined(separator: ","))]}"#
        for _ in 0..<5 { #expect(try await daemon.post("\(Self.base)/profiles/properties/batch", batch).status == 202) }
        let slow = #"{"where": {"or": [\#((0..<64).map { #"{"property": "name", "op": "contains", "value": "x\#($0)"}"# }.joined(separator: ","))]}}"#
        let reply = try await daemon.post("\(Self.base)/profiles/count", slow)
        #expect(reply.status == 503, "\(reply.body)")
        #expect(reply.errorCode == "query_timeout")
        #expect(reply.headers["Retry-After"] == "1")
        #expect(try await daemon.post("\(Self.base)/profiles/properties/set", #"{"distinct_id": "u1", "$set": {"name": "Ada"}}"#).status == 202)
        #expect(try await daemon.terminate() == 0)
    }

    /// `onced export` to JSONL, fed back through `onced apply` as `$set` into an
    /// empty store, reproduces every property of every exported profile.
    @Test(arguments: TestDataSet.Kind.allCases)
    func exportFedBackThroughApplyReproducesTheProfiles(store: TestDataSet.Kind) async throws {
        let directory = TemporaryDirectory()
        let source = try await TestDataSet.fresh(store, in: directory)
        var lines = (0..<2500).map { index in
            applyLine("user-\(index)", #""$set": {"n": \#(index), "half": \#(Double(index) / 2), "plan": "\#(index % 3 == 0 ? "pro" : "free")", "signup": "2024-01-\#(String(format: "%02d", index % 28 + 1))T10:00:00+02:00", "tags": ["a", \#(index % 5)], "on": \#(index % 2 == 0)}"#)
        }
        lines.append(applyLine(#"ünïcode \"quoted\" \\"#, #""$set": {"plan": "pro", "note": "line\nbreak"}"#))
        try FileManager.default.createDirectory(atPath: directory.path("no-rules"), withIntermediateDirectories: true)
        let applied = try await OncedBinary.run(["apply"] + source.arguments + ["--rules", directory.path("no-rules")],
                                                input: Data((lines.joined(separator: "\n") + "\n").utf8))
        #expect(applied.status == 0, "\(applied.stderr)")

        let all = try await OncedBinary.run(["export", "--workspace", Daemon.workspace, "--version", "live"] + source.arguments)
        #expect(all.status == 0, "\(all.stderr)")
        #expect(all.lines.count == 2501)
        let ids = try all.lines.map { try #require(try JSONParser.parse($0).objectValue?["distinct_id"]?.stringValue) }
        #expect(ids == ids.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })

        let pro = try await OncedBinary.run(["export", "--workspace", Daemon.workspace, "--version", "live",
                                             "--where", #"{"property": "plan", "op": "eq", "value": "pro"}"#] + source.arguments)
        #expect(pro.lines.count == 835)

        // Back in as $set, into an empty SQLite file.
        let replay = all.lines.map { line -> String in
            let profile = try! JSONParser.parse(line).objectValue!
            return JSON.object(JSONObject([
                .init("workspace", .string(Daemon.workspace)), .init("version", .string("live")),
                .init("distinct_id", profile["distinct_id"]!), .init("$set", profile["properties"]!),
            ])).text
        }
        let copy = directory.path("copy.db")
        let reapplied = try await OncedBinary.run(["apply", "--db", copy, "--rules", directory.path("no-rules")],
                                                  input: Data((replay.joined(separator: "\n") + "\n").utf8))
        #expect(reapplied.status == 0, "\(reapplied.stderr)")
        let again = try await OncedBinary.run(["export", "--workspace", Daemon.workspace, "--version", "live", "--db", copy])
        func properties(_ lines: [String]) throws -> [JSON?] { try lines.map { try JSONParser.parse($0).objectValue?["properties"] } }
        #expect(try properties(again.lines) == (try properties(all.lines)))
        #expect(again.lines.map { try? JSONParser.parse($0).objectValue?["distinct_id"] } == all.lines.map { try? JSONParser.parse($0).objectValue?["distinct_id"] })

        // A bad filter or namespace is a one-line error and a non-zero exit, nothing on stdout.
        for arguments in [["--where", #"{"property": "n", "op": "eq", "value": "x"}"#], ["--where", "{"], ["--version", "staging"]] {
            let failed = try await OncedBinary.run(["export", "--workspace", Daemon.workspace]
                + (arguments.contains("--version") ? [] : ["--version", "live"]) + arguments + source.arguments)
            #expect(failed.status != 0, "\(arguments)")
            #expect(failed.stdout.isEmpty)
            #expect(!failed.stderr.isEmpty)
        }
    }
}
