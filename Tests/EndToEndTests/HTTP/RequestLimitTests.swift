import Foundation
import OnceEngine
import Testing

/// What a request may carry is refused at decode, before any rule runs: more
/// properties than the caps is a 400, and a value that can never be stored is
/// settled `ignored_invalid` without reaching the rules.
@Suite(.serialized) struct RequestLimitTests {
    static let base = "/v1/\(Daemon.workspace)/live"

    static func values(_ count: Int, prefix: String = "p") -> String {
        "{" + (0..<count).map { #""\#(prefix)\#($0)": \#($0)"# }.joined(separator: ",") + "}"
    }

    @Test func moreThanTheCapsIsABadRequestThatWritesNothing() async throws {
        let daemon = try await Daemon.start(arguments: ["--max-op-properties", "5", "--max-request-properties", "8"])
        let over = try await daemon.post("\(Self.base)/profiles/properties/set", #"{"$set": \#(Self.values(6)), "distinct_id": "a"}"#)
        #expect(over.status == 400 && over.errorCode == "bad_request")
        #expect(over.json?["error"]?.objectValue?["message"]?.stringValue?.contains("at most 5 are allowed per op key") == true, "\(over.body)")
        let unset = try await daemon.post("\(Self.base)/profiles/properties/unset", #"{"$unset": ["a","b","c","d","e","f"], "distinct_id": "a"}"#)
        #expect(unset.status == 400)
        #expect(try await daemon.post("\(Self.base)/profiles/properties/set", #"{"$set": \#(Self.values(5)), "distinct_id": "a"}"#).status == 202)

        let batch = Daemon.onceBatch(["b1", "b2", "b3"], Self.values(3))
        let tooMany = try await daemon.post("\(Self.base)/profiles/properties/batch", batch)
        #expect(tooMany.status == 400, "\(tooMany.body)")
        #expect(tooMany.json?["error"]?.objectValue?["message"]?.stringValue?.contains("9 properties; at most 8") == true)
        #expect(try await daemon.get("\(Self.base)/profiles/b1").status == 404)
        // In a batch, an op key over the per-op cap is that element's error; the rest is applied.
        let mixed = #"{"batch": [{"distinct_id": "c1", "action": {"$set": \#(Self.values(6))}}, {"distinct_id": "c2", "action": {"$set": {"x": 1}}}]}"#
        let reply = try await daemon.post("\(Self.base)/profiles/properties/batch", mixed)
        #expect(reply.status == 202)
        #expect(reply.json?["batch"] == .array([.object(JSONObject([.init("$set", .string(
            "$set carries 6 properties; at most 5 are allowed per op key"))])), .object(JSONObject([.init("$set", .string("ok"))]))]))
        #expect(try await daemon.get("\(Self.base)/profiles/c1").status == 404)
        #expect(try await daemon.get("\(Self.base)/profiles/c2").status == 200)
    }

    @Test func theDefaultCapIsAThousandPerOpKey() async throws {
        let daemon = try await Daemon.start()
        let over = try await daemon.post("\(Self.base)/profiles/properties/set-once", #"{"$once": \#(Self.values(1001)), "distinct_id": "a"}"#)
        #expect(over.status == 400 && over.body.contains("at most 1000"))
        #expect(try await daemon.post("\(Self.base)/profiles/properties/set-once", #"{"$once": \#(Self.values(1000)), "distinct_id": "a"}"#).status == 202)
    }

    @Test func theCapsHoldForApplyLines() async throws {
        let run = try await OncedBinary.run(["apply", "--dry-run", "--max-op-properties", "5"],
                                            input: Data((applyLine("a", #""$set": \#(Self.values(6))"#) + "\n"
                                                         + applyLine("b", #""$set": \#(Self.values(5))"#) + "\n").utf8))
        let lines = try run.lines.map(parseOutput)
        #expect(lines.count == 2)
        #expect(lines.first?["error"]?.objectValue?["message"]?.stringValue?.contains("at most 5 are allowed per op key") == true)
        #expect(lines.last?["results"] != nil)
    }

    /// A rule that fails on every property it sees shows which values reached it.
    @Test func valuesThatCanNeverBeStoredNeverReachTheRules() async throws {
        let directory = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.path("rules"), withIntermediateDirectories: true)
        try #"return { on_error = "reject", property = function(name) error("saw " .. name) end }"#
            .write(toFile: directory.path("rules/10-sees.lua"), atomically: true, encoding: .utf8)
        let daemon = try await Daemon.start(arguments: ["--rules", directory.path("rules")], directory: directory)
        let longList = "[" + (0..<1001).map(String.init).joined(separator: ",") + "]"
        let long = String(repeating: "x", count: 256)
        let body = #"{"$set": {"list": \#(longList), "text": "\#(long)", "in_list": ["\#(long)"], "fine": 1}, "distinct_id": "u"}"#
        let write = try await daemon.post("\(Self.base)/profiles/properties/set", body)
        #expect(write.status == 202)
        let id = try #require(write.json?["request_id"]?.stringValue)
        let record = try await daemon.get("\(Self.base)/requests/\(id)")
        guard case .array(let entries)? = record.json?["results"],
              let results = entries.first?.objectValue?["properties"]?.objectValue else {
            Issue.record("no results: \(record.body)")
            return
        }
        for name in ["list", "text", "in_list"] {
            #expect(results[name]?.objectValue?["outcome"] == .string("ignored_invalid"), "\(name): \(record.body)")
        }
        #expect(results["list"]?.objectValue?["reason"] == .string("lists hold at most 1000 elements"))
        #expect(results["fine"]?.objectValue?["outcome"] == .string("rejected_by_rule"), "the rule runs on what can be stored")
    }

    /// `--max-in-flight` requests with maximal bodies at once: memory stays
    /// within the bound README states (base + 6 MiB per request in flight).
    @Test func concurrentMaximalBodiesStayWithinTheMemoryBound() async throws {
        let inFlight = 16
        let daemon = try await Daemon.start(arguments: ["--max-in-flight", "\(inFlight)", "--rules", OncedBinary.shippedRules])
        _ = try await daemon.post("\(Self.base)/profiles/properties/set", #"{"$set": {"warm": 1}, "distinct_id": "w"}"#)
        let base = daemon.peakResidentMiB
        // 1 MiB bodies: lists of short strings as long as the body limit allows, and thousand-property objects.
        let element = #""abcdefgh","#
        let list = "[" + String(repeating: element, count: (1024 * 1024 - 200) / element.utf8.count).dropLast() + "]"
        let name = String(repeating: "n", count: 250), value = String(repeating: "v", count: 255)
        let wide = "{" + (0..<1000).map { #""\#(name)\#($0)": "\#(value)""# }.joined(separator: ",") + "}"
        let bodies = [("list-append", #"{"$append": {"tags": \#(list)}, "distinct_id": "m"}"#),
                      ("set", #"{"$set": \#(wide), "distinct_id": "m"}"#)]
        for (_, body) in bodies { #expect(body.utf8.count <= 1024 * 1024 && body.utf8.count > 500 * 1024) }
        for round in 0..<4 {
            let (path, body) = bodies[round % 2]
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<inFlight { group.addTask { try await daemon.post("\(Self.base)/profiles/properties/\(path)", body).status } }
                for try await status in group { #expect(status == 202 || status == 400 || status == 503) }
            }
        }
        let peak = daemon.peakResidentMiB
        #expect(peak - base <= 6 * inFlight, "peak \(peak) MiB from \(base) MiB")
        #expect(try await daemon.get("/health", key: nil).status == 200)
    }
}
