import Foundation
import OnceEngine
import Testing

/// Every row of SPEC §3 against the real daemon over HTTP.
@Suite(.serialized) struct HTTPAPITests {
    static let base = "/v1/\(Daemon.workspace)/live"

    @Test(arguments: TestDataSet.Kind.allCases)
    func theSeedPagesExactRequest(store: TestDataSet.Kind) async throws {
        let daemon = try await Daemon.start(store)
        let reply = try await daemon.post("\(Self.base)/profiles/properties/set-once", #"""
            {
            "$once": {
            "property_1": "some text",
            "property_2": 123,
            "property_3": 45.67,
            "property_4": true,
            "property_5": false,
            "property_6": "2020-10-01T18:30:00.000Z",
            "property_7": "2021-12-01",
            "property_8": [
            "iPhone 16 Pro",
            "iPad 32 GB"
            ],
            "property_9": [
            23000,
            20.34
            ],
            "property_n": [
            "2020-10-01T18:30:00Z",
            "2021-11-01T13:35:00+02:00",
            "2023-12-05"
            ]
            },
            "distinct_id": "XXXXXXXX"
            }
            """#)
        #expect(reply.status == 202)
        let requestID = try #require(reply.json?["request_id"]?.stringValue)
        #expect(UUID(uuidString: requestID) != nil)
        #expect(reply.json?.keys == ["request_id"])

        let record = try await daemon.get("\(Self.base)/requests/\(requestID)")
        #expect(record.status == 200)
        #expect(record.json?["status"] == .string("processed"))
        guard case .array(let results)? = record.json?["results"], let first = results.first?.objectValue else {
            Issue.record("no results: \(record.body)")
            return
        }
        #expect(first["distinct_id"] == .string("XXXXXXXX"))
        #expect(first["op"] == .string("set_once"))
        #expect(first["properties"]?.objectValue?.members.count == 10)

        let profile = try await daemon.get("\(Self.base)/profiles/XXXXXXXX")
        #expect(profile.status == 200)
        let properties = try #require(profile.json?["properties"]?.objectValue)
        #expect(properties["property_2"] == .integer(123))
        #expect(properties["property_3"] == .decimal(45.67))
        #expect(properties["property_6"] == .string("2020-10-01T18:30:00.000Z"))
        #expect(properties["property_9"] == .array([.integer(23000), .decimal(20.34)]))
        #expect(profile.json?["created_at"]?.stringValue.flatMap(ISODate.init(parsing:)) != nil)

        let types = try await daemon.get("\(Self.base)/properties")
        #expect(types.status == 200)
        #expect(types.json?["properties"]?.objectValue?["property_7"] == .string("date"))
        #expect(types.json?["properties"]?.objectValue?["property_8"] == .string("list"))
    }

    @Test(arguments: TestDataSet.Kind.allCases)
    func everyWriteEndpoint(store: TestDataSet.Kind) async throws {
        let daemon = try await Daemon.start(store)
        let path = "\(Self.base)/profiles/properties"
        #expect(try await daemon.post("\(path)/set-once", #"{"$once": {"plan": "free"}, "distinct_id": "u"}"#).status == 202)
        #expect(try await daemon.post("\(path)/set-once", #"{"$once": {"plan": "pro"}, "distinct_id": "u"}"#).status == 202)
        #expect(try await daemon.post("\(path)/set", #"{"$set": {"city": "Pune"}, "distinct_id": "u"}"#).status == 202)
        #expect(try await daemon.post("\(path)/numerical-add", #"{"$add": {"ltv": 10, "credits": -2.5}, "distinct_id": "u"}"#).status == 202)
        #expect(try await daemon.post("\(path)/list-append", #"{"$append": {"order_ids": 245, "tags": ["a", "b"]}, "distinct_id": "u"}"#).status == 202)
        #expect(try await daemon.post("\(path)/list-remove", #"{"$remove": {"tags": "a"}, "distinct_id": "u"}"#).status == 202)
        let unset = try await daemon.post("\(path)/unset", #"{"$unset": ["city", "city", ""], "distinct_id": "u"}"#)
        #expect(unset.status == 202)
        // A repeated name is one entry of the record, which reads back.
        let record = try await daemon.get("\(Self.base)/requests/\(unset.json?["request_id"]?.stringValue ?? "")")
        #expect(record.status == 200, "\(record.body)")
        let unsetResult = record.json?["results"].flatMap { if case .array(let results) = $0 { results.first?.objectValue } else { nil } }
        #expect(unsetResult?["properties"]?.objectValue?.keys == ["city", ""])
        let profile = try #require(try await daemon.get("\(Self.base)/profiles/u").json?["properties"]?.objectValue)
        #expect(profile["plan"] == .string("free"))
        #expect(profile["city"] == nil)
        #expect(profile["ltv"] == .integer(10))
        #expect(profile["credits"] == .decimal(-2.5))
        #expect(profile["order_ids"] == .array([.integer(245)]))
        #expect(profile["tags"] == .array([.string("b")]))
    }

    @Test(arguments: TestDataSet.Kind.allCases)
    func batchWithMixedActions(store: TestDataSet.Kind) async throws {
        let daemon = try await Daemon.start(store)
        let reply = try await daemon.post("\(Self.base)/profiles/properties/batch", #"""
            {"batch": [
              {"distinct_id": "a", "action": {"$set": {"plan": "pro"}, "$once": {"first": "x"}}},
              {"distinct_id": "b", "action": {"$append": {"tags": "t"}, "$add": "not an object"}},
              {"distinct_id": "c", "action": {"$bogus": {}}},
              {"action": {"$set": {"x": 1}}},
              {"distinct_id": "a", "action": {"$unset": ["first"]}}
            ]}
            """#)
        #expect(reply.status == 202)
        guard case .array(let entries)? = reply.json?["batch"] else { Issue.record("\(reply.body)"); return }
        #expect(entries.count == 5)
        #expect(entries[0] == .object(JSONObject([.init("$set", .string("ok")), .init("$once", .string("ok"))])))
        #expect(entries[1].objectValue?["$append"] == .string("ok"))
        #expect(entries[1].objectValue?["$add"]?.stringValue?.contains("must be an object") == true)
        #expect(entries[2].objectValue?["$bogus"] == .string("unknown op key"))
        #expect(entries[3].objectValue?["error"]?.stringValue?.contains("distinct_id") == true)
        let a = try #require(try await daemon.get("\(Self.base)/profiles/a").json?["properties"]?.objectValue)
        #expect(a["plan"] == .string("pro"))
        #expect(a["first"] == nil)
        #expect(try await daemon.get("\(Self.base)/profiles/b").json?["properties"]?.objectValue?["tags"] == .array([.string("t")]))
        #expect(try await daemon.get("\(Self.base)/profiles/c").status == 404)

        let record = try await daemon.get("\(Self.base)/requests/\(reply.json!["request_id"]!.stringValue!)")
        guard case .array(let results)? = record.json?["results"] else { Issue.record("\(record.body)"); return }
        #expect(results.count == 4)  // a: $once, $set; b: $append; a: $unset
    }

    @Test(arguments: TestDataSet.Kind.allCases)
    func errorCodes(store: TestDataSet.Kind) async throws {
        let daemon = try await Daemon.start(store, arguments: ["--max-body-bytes", "2000"])
        let setOnce = "\(Self.base)/profiles/properties/set-once"
        let valid = #"{"$once": {"a": 1}, "distinct_id": "u"}"#
        let cases: [(String, Daemon.Reply, Int, String)] = [
            ("bad version", try await daemon.post("/v1/\(Daemon.workspace)/prod/profiles/properties/set-once", valid), 400, "bad_request"),
            ("no key", try await daemon.post(setOnce, valid, key: nil), 401, "unauthorized"),
            ("wrong key", try await daemon.post(setOnce, valid, key: "nope"), 401, "unauthorized"),
            ("other workspace's key", try await daemon.post(setOnce, valid, key: Daemon.otherKey), 401, "unauthorized"),
            ("malformed JSON", try await daemon.post(setOnce, #"{"$once": {"#), 400, "bad_request"),
            ("not an object", try await daemon.post(setOnce, "[]"), 400, "bad_request"),
            ("missing distinct_id", try await daemon.post(setOnce, #"{"$once": {"a": 1}}"#), 400, "bad_request"),
            ("missing op key", try await daemon.post(setOnce, #"{"distinct_id": "u"}"#), 400, "bad_request"),
            ("ill-shaped op key", try await daemon.post(setOnce, #"{"$once": [1], "distinct_id": "u"}"#), 400, "bad_request"),
            ("wrong op key", try await daemon.post(setOnce, #"{"$set": {}, "distinct_id": "u"}"#), 400, "bad_request"),
            ("deep nesting", try await daemon.post(setOnce, String(repeating: "[", count: 500)), 400, "bad_request"),
            ("over the body limit", try await daemon.post(setOnce, #"{"$once": {"a": ""# + String(repeating: "x", count: 3000) + #""}, "distinct_id": "u"}"#), 413, "payload_too_large"),
            ("unknown profile", try await daemon.get("\(Self.base)/profiles/nobody"), 404, "not_found"),
            ("unknown request", try await daemon.get("\(Self.base)/requests/\(UUID().uuidString)"), 404, "not_found"),
            ("not a request id", try await daemon.get("\(Self.base)/requests/xyz"), 404, "not_found"),
            ("unknown route", try await daemon.get("/v2/anything"), 404, "not_found"),
            ("GET on a write path", try await daemon.get(setOnce), 405, "method_not_allowed"),
            ("PUT on a profile", try await daemon.request("PUT", "\(Self.base)/profiles/u", body: "{}"), 405, "method_not_allowed"),
            ("POST on /health", try await daemon.post("/health", "{}"), 405, "method_not_allowed"),
        ]
        for (title, reply, status, code) in cases {
            #expect(reply.status == status, "\(title): \(reply.status) \(reply.body)")
            #expect(reply.errorCode == code, "\(title): \(reply.body)")
            #expect(reply.json?["error"]?.objectValue?["message"]?.stringValue?.isEmpty == false, "\(title)")
        }
        #expect(cases.filter { $0.2 == 405 }.map { $0.1.headers["Allow"] } == ["POST", "GET, DELETE, HEAD", "GET, HEAD"])
        let unauthorized = cases.filter { $0.2 == 401 }.map(\.1.body)
        #expect(Set(unauthorized).count == 1, "401s must not say which part was wrong")
        // Nothing of the refused requests was written.
        #expect(try await daemon.get("\(Self.base)/profiles/u").status == 404)

        let tooMany = "{\"batch\": [" + Array(repeating: #"{"distinct_id": "u", "action": {"$set": {"a": 1}}}"#, count: 1001).joined(separator: ",") + "]}"
        let big = try await Daemon.start(store)
        let reply = try await big.post("\(Self.base)/profiles/properties/batch", tooMany)
        #expect(reply.status == 400)
        #expect(reply.body.contains("at most 1000"))
    }

    @Test(arguments: TestDataSet.Kind.allCases)
    func isolationBetweenWorkspacesAndVersions(store: TestDataSet.Kind) async throws {
        let daemon = try await Daemon.start(store)
        #expect(try await daemon.post("\(Self.base)/profiles/properties/set", #"{"$set": {"n": 1}, "distinct_id": "u"}"#).status == 202)
        #expect(try await daemon.get("/v1/\(Daemon.workspace)/test/profiles/u").status == 404)
        #expect(try await daemon.get("/v1/\(Daemon.workspace)/test/properties").json?["properties"] == .object(JSONObject()))
        #expect(try await daemon.get("/v1/\(Daemon.otherWorkspace)/live/profiles/u", key: Daemon.otherKey).status == 404)
        #expect(try await daemon.get("/v1/\(Daemon.workspace)/live/profiles/u", key: Daemon.otherKey).status == 401)
        // The same key works for both versions of its workspace.
        #expect(try await daemon.post("/v1/\(Daemon.workspace)/test/profiles/properties/set", #"{"$set": {"n": "text"}, "distinct_id": "u"}"#).status == 202)
        #expect(try await daemon.get("/v1/\(Daemon.workspace)/test/properties").json?["properties"]?.objectValue?["n"] == .string("string"))
        #expect(try await daemon.get("\(Self.base)/properties").json?["properties"]?.objectValue?["n"] == .string("number"))
    }

    @Test(arguments: TestDataSet.Kind.allCases)
    func ruleRejectionsAndHealth(store: TestDataSet.Kind) async throws {
        let directory = TemporaryDirectory()
        let rules = directory.path("rules")
        try FileManager.default.createDirectory(atPath: rules, withIntermediateDirectories: true)
        try """
            return { name = "no spam", request = function(req) if req.properties.spam then return once.reject("spam is not welcome") end end }
            """.write(toFile: rules + "/10-gate.lua", atomically: true, encoding: .utf8)
        let daemon = try await Daemon.start(store, arguments: ["--rules", rules], directory: directory)
        let reply = try await daemon.post("\(Self.base)/profiles/properties/set", #"{"$set": {"spam": true}, "distinct_id": "s"}"#)
        #expect(reply.status == 400)
        #expect(reply.errorCode == "rejected_by_rule")
        #expect(reply.json?["error"]?.objectValue?["rule"] == .string("no spam"))
        #expect(reply.json?["error"]?.objectValue?["reason"] == .string("spam is not welcome"))
        #expect(try await daemon.get("\(Self.base)/profiles/s").status == 404)

        let health = try await daemon.get("/health", key: nil)
        #expect(health.status == 200)
        #expect(health.json?["rules"]?.objectValue?["generation"] == .integer(1))
        try "return {".write(toFile: rules + "/20-broken.lua", atomically: true, encoding: .utf8)
        var errors: [JSON] = []
        for _ in 0..<40 where errors.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            if case .array(let list)? = try await daemon.get("/health", key: nil).json?["rules"]?.objectValue?["errors"] { errors = list }
        }
        #expect(errors.first?.objectValue?["file"] == .string("20-broken.lua"))
        #expect(errors.first?.objectValue?["line"] == .integer(1))
        #expect(try await daemon.get("/health", key: nil).json?["rules"]?.objectValue?["generation"] == .integer(1))

        let metrics = try await daemon.get("/metrics", key: nil)
        #expect(metrics.status == 200)
        for name in ["http_server_request_duration", "onced_commit_batch_size", "onced_rule_reloads_total"] {
            #expect(metrics.body.contains(name), "\(name) missing from /metrics")
        }
    }

    @Test(arguments: TestDataSet.Kind.allCases)
    func persistentKeys(store: TestDataSet.Kind) async throws {
        let directory = TemporaryDirectory()
        let dataSet = try await TestDataSet.fresh(store, in: directory)
        let create = try await OncedBinary.run(["keys", "create", Daemon.workspace] + dataSet.arguments)
        #expect(create.status == 0)
        let key = try #require(create.lines.first)
        #expect(key.hasPrefix("onced_"))
        #expect(create.lines.count == 2 && create.lines[1].hasPrefix("key_"), "\(create.stdout)")
        let keys = try await dataSet.open()
        #expect(try await keys.key(forHash: APIKey.hash(key))?.workspace == Daemon.workspace)
        #expect(try await keys.key(forHash: key) == nil, "the key itself must never be stored")
        try await keys.close()
        if store == .sqlite {
            let dump = try String(contentsOfFile: dataSet.sqlitePath, encoding: .isoLatin1)
            #expect(!dump.contains(key), "the key itself must never be stored")
        }

        let daemon = try await Daemon.start(directory: directory, store: dataSet.arguments)
        #expect(try await daemon.post("\(Self.base)/profiles/properties/set", #"{"$set": {"a": 1}, "distinct_id": "k"}"#, key: key).status == 202)
        #expect(try await daemon.get("/v1/\(Daemon.otherWorkspace)/live/profiles/k", key: key).status == 401)
    }
}
