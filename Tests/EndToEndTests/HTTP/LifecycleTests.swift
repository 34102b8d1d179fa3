import Foundation
import OnceEngine
import Testing

/// SPEC §9 over HTTP, against both stores: erasing a profile, dropping a
/// property, provenance, record retention.
@Suite struct LifecycleHTTPTests {
    static let base = "/v1/\(Daemon.workspace)/live"

    static func requestID(_ reply: Daemon.Reply) throws -> String {
        try #require(reply.json?["request_id"]?.stringValue, "\(reply.status) \(reply.body)")
    }

    static func results(_ daemon: Daemon, _ id: String) async throws -> [JSON] {
        guard case .array(let entries)? = try await daemon.get("\(base)/requests/\(id)").json?["results"] else { return [] }
        return entries
    }

    @Test(arguments: TestDataSet.Kind.allCases)
    func deletingAProfileErasesItAndItsTraces(store: TestDataSet.Kind) async throws {
        let daemon = try await Daemon.start(store)
        let written = try Self.requestID(try await daemon.post("\(Self.base)/profiles/properties/batch", """
            {"batch": [{"distinct_id": "Ada Lovelace", "action": {"$once": {"plan": "pro"}}},
                       {"distinct_id": "bob", "action": {"$once": {"plan": "free"}}}]}
            """))
        let deletion = try await daemon.request("DELETE", "\(Self.base)/profiles/Ada%20Lovelace")
        #expect(deletion.status == 202)
        let deletionID = try Self.requestID(deletion)
        #expect(try await daemon.get("\(Self.base)/profiles/Ada%20Lovelace").status == 404)
        #expect(try await daemon.get("\(Self.base)/profiles/bob").status == 200)
        #expect(try await Self.results(daemon, deletionID) == [.object(JSONObject([
            .init("distinct_id", .null), .init("op", .string("delete")), .init("outcome", .string("deleted")),
        ]))])
        let earlier = try await Self.results(daemon, written)
        #expect(earlier.map { $0.objectValue?["distinct_id"] } == [.null, .string("bob")])
        #expect(earlier.first?.objectValue?["properties"] == .object(JSONObject([.init("plan", .object(JSONObject([.init("outcome", .string("set"))])))])))

        let again = try Self.requestID(try await daemon.request("DELETE", "\(Self.base)/profiles/Ada%20Lovelace"))
        #expect(try await Self.results(daemon, again).first?.objectValue?["outcome"] == .string("unchanged"))
        let rewritten = try await daemon.post("\(Self.base)/profiles/properties/set", #"{"distinct_id": "Ada Lovelace", "$set": {"city": "Pune"}}"#)
        #expect(rewritten.status == 202)
        #expect(try await daemon.get("\(Self.base)/profiles/Ada%20Lovelace").json?["properties"]
            == .object(JSONObject([.init("city", .string("Pune"))])))

        // Another workspace's key reaches nothing; a bad escape is a 400; nothing was erased by either.
        #expect(try await daemon.request("DELETE", "\(Self.base)/profiles/bob", key: Daemon.otherKey).status == 401)
        #expect(try await daemon.request("DELETE", "\(Self.base)/profiles/bob", key: nil).status == 401)
        for path in ["profiles/b%ZZob", "profiles/b%00", "properties/%FF"] {
            let malformed = try await offload {
                try RawHTTP.exchange(daemon.port, "DELETE \(Self.base)/\(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                     + "Authorization: Bearer \(Daemon.key)\r\nConnection: close\r\n\r\n")
            }
            #expect(malformed?.status == 400, "\(path): \(String(describing: malformed))")
        }
        #expect(try await daemon.request("DELETE", "/v1/\(Daemon.workspace)/staging/profiles/bob").status == 400)
        #expect(try await daemon.request("DELETE", "\(Self.base)/profiles/\(String(repeating: "b", count: 256))").status == 400)
        #expect(try await daemon.request("DELETE", "\(Self.base)/properties/%24plan").status == 400)
        #expect(try await daemon.request("DELETE", "\(Self.base)/properties/\(String(repeating: "p", count: 256))").status == 400)
        #expect(try await daemon.get("\(Self.base)/profiles/bob").status == 200)
        #expect(try await daemon.terminate() == 0)
    }

    /// Erased means gone from the file: the distinct_id and every value, once the 202 is back.
    @Test func anErasedProfileLeavesNoBytesInTheDatabaseFiles() async throws {
        let directory = TemporaryDirectory()
        let daemon = try await Daemon.start(directory: directory)
        let secret = "privacy-7c1e@example.com", value = "a-value-only-ada-had-3f9e"
        for index in 0..<50 {
            _ = try await daemon.post("\(Self.base)/profiles/properties/set-once", #"{"distinct_id": "u\#(index)", "$once": {"n": \#(index)}}"#)
        }
        _ = try await daemon.post("\(Self.base)/profiles/properties/unset", #"{"distinct_id": "\#(secret)", "$unset": ["x"]}"#)
        _ = try await daemon.post("\(Self.base)/profiles/properties/set-once", #"{"distinct_id": "\#(secret)", "$once": {"nick": "\#(value)"}}"#)
        _ = try await daemon.post("\(Self.base)/profiles/properties/list-append", #"{"distinct_id": "\#(secret)", "$append": {"tags": ["\#(value)"]}}"#)
        let files = ["onced.db", "onced.db-wal"].map(directory.path)
        func inFiles(_ text: String) -> Bool {
            files.contains { FileManager.default.contents(atPath: $0)?.range(of: Data(text.utf8)) != nil }
        }
        #expect(inFiles(secret) && inFiles(value))
        #expect(try await daemon.request("DELETE", "\(Self.base)/profiles/\(secret.replacingOccurrences(of: "@", with: "%40"))").status == 202)
        #expect(!inFiles(secret), "the erased distinct_id is still in the files")
        #expect(!inFiles(value), "an erased value is still in the files")
        #expect(try await daemon.get("\(Self.base)/profiles/u7").json?["properties"] == .object(JSONObject([.init("n", .integer(7))])))
        #expect(try await daemon.terminate() == 0)
    }

    @Test(arguments: TestDataSet.Kind.allCases)
    func droppingAPropertyLetsItRegisterAnotherType(store: TestDataSet.Kind) async throws {
        let daemon = try await Daemon.start(store)
        _ = try await daemon.post("\(Self.base)/profiles/properties/set-once", #"{"distinct_id": "a", "$once": {"signup": "soon", "plan": "pro"}}"#)
        // Registered as a string by mistake: a date is now ignored.
        let ignored = try Self.requestID(try await daemon.post("\(Self.base)/profiles/properties/set",
                                                                #"{"distinct_id": "b", "$set": {"signup": 5}}"#))
        #expect(try await Self.results(daemon, ignored).first?.objectValue?["properties"]?.objectValue?["signup"]?.objectValue?["outcome"]
                == .string("ignored_type_mismatch"))

        let drop = try await daemon.request("DELETE", "\(Self.base)/properties/signup")
        #expect(drop.status == 202)
        #expect(try await Self.results(daemon, try Self.requestID(drop)) == [.object(JSONObject([
            .init("op", .string("drop_property")), .init("property", .string("signup")), .init("outcome", .string("dropped")),
        ]))])
        #expect(try await daemon.get("\(Self.base)/profiles/a").json?["properties"] == .object(JSONObject([.init("plan", .string("pro"))])))
        #expect(try await daemon.get("\(Self.base)/properties").json?["properties"] == .object(JSONObject([.init("plan", .string("string"))])))
        _ = try await daemon.post("\(Self.base)/profiles/properties/set-once", #"{"distinct_id": "a", "$once": {"signup": 2020}}"#)
        #expect(try await daemon.get("\(Self.base)/profiles/a").json?["properties"]?.objectValue?["signup"] == .integer(2020))
        #expect(try await daemon.get("\(Self.base)/properties").json?["properties"]?.objectValue?["signup"] == .string("number"))

        let unknown = try Self.requestID(try await daemon.request("DELETE", "\(Self.base)/properties/never%20seen"))
        #expect(try await Self.results(daemon, unknown).first?.objectValue?["outcome"] == .string("unchanged"))
        #expect(try await daemon.request("DELETE", "\(Self.base)/properties/plan", key: Daemon.otherKey).status == 401)
        #expect(try await daemon.get("\(Self.base)/properties").json?["properties"]?.objectValue?["plan"] == .string("string"))
        #expect(try await daemon.terminate() == 0)
    }

    @Test(arguments: TestDataSet.Kind.allCases)
    func provenanceNamesTheRequestOpTimeAndRule(store: TestDataSet.Kind) async throws {
        let daemon = try await Daemon.start(store, arguments: ["--rules", OncedBinary.shippedRules])
        let first = try Self.requestID(try await daemon.post("\(Self.base)/profiles/properties/set-once",
                                                              #"{"distinct_id": "u", "$once": {"plan": "pro", "Email": "Ada@Example.com"}}"#))
        let second = try Self.requestID(try await daemon.post("\(Self.base)/profiles/properties/batch", """
            {"batch": [{"distinct_id": "u", "action": {"$once": {"plan": "free"}, "$add": {"credits": 5}}}]}
            """))
        let plain = try await daemon.get("\(Self.base)/profiles/u")
        #expect(plain.json?["provenance"] == nil)
        let reply = try await daemon.get("\(Self.base)/profiles/u?provenance=true")
        let provenance = try #require(reply.json?["provenance"]?.objectValue, "\(reply.body)")
        let plan = provenance["plan"]?.objectValue
        #expect(plan?["request_id"] == .string(first) && plan?["op"] == .string("set_once") && plan?["rule"] == nil)  // "free" left it unchanged
        #expect(plan?["at"]?.stringValue.flatMap(ISODate.init(parsing:)) != nil)
        #expect(provenance["credits"]?.objectValue?["request_id"] == .string(second))
        #expect(provenance["credits"]?.objectValue?["op"] == .string("add"))
        #expect(provenance["email"]?.objectValue?["rule"]?.stringValue?.isEmpty == false, "renamed by a rule: \(provenance)")
        #expect(provenance["email_domain"]?.objectValue?["rule"]?.stringValue?.isEmpty == false, "added by a rule: \(provenance)")
        #expect(Set(provenance.keys) == Set(reply.json?["properties"]?.objectValue?.keys ?? []))
        #expect(try await daemon.get("\(Self.base)/profiles/u?provenance=yes").status == 400)
        #expect(try await daemon.terminate() == 0)
    }

    /// Records past `--record-retention` days are deleted in the background and answer 404; profiles stay.
    @Test(arguments: TestDataSet.Kind.allCases)
    func expiredRecordsAnswerNotFound(store: TestDataSet.Kind) async throws {
        let directory = TemporaryDirectory()
        let dataSet = try await TestDataSet.fresh(store, in: directory)
        let engine = Engine(store: try await dataSet.open())
        let namespace = Namespace(workspace: Daemon.workspace, version: .live)
        func write(daysAgo days: Double) async throws -> String {
            let at = Date().addingTimeInterval(-days * 86_400)
            let element = try RequestDecoder.element(distinctID: "u\(Int(days))", opsIn: try JSONParser.parse(#"{"$set": {"p": 1}}"#).objectValue!)
            return try await engine.submit(WriteRequest(id: .timeOrdered(at: at), namespace: namespace, receivedAt: at, elements: [element]))
                .id.lowercaseString
        }
        let old = try await write(daysAgo: 40), recent = try await write(daysAgo: 10)
        try await engine.close()

        let keeping = try await Daemon.start(arguments: ["--record-retention", "0"], directory: directory, store: dataSet.arguments)
        #expect(try await keeping.get("\(Self.base)/requests/\(old)").status == 200)
        #expect(try await keeping.terminate() == 0)

        let daemon = try await Daemon.start(arguments: ["--record-retention", "30"], directory: directory, store: dataSet.arguments)
        var status = 200
        for _ in 0..<100 where status == 200 {
            status = try await daemon.get("\(Self.base)/requests/\(old)").status
            if status == 200 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(status == 404)
        #expect(try await daemon.get("\(Self.base)/requests/\(recent)").status == 200)
        #expect(try await daemon.get("\(Self.base)/profiles/u40").status == 200)
        #expect(try await daemon.terminate() == 0)

        let refused = try await OncedBinary.run(["serve", "--record-retention", "-1"] + dataSet.arguments)
        #expect(refused.status != 0 && refused.stderr.contains("record-retention"))
    }
}
