import Foundation
import OnceEngine
import Testing

/// `POST …/rules/preview` (SPEC §10) against the real daemon with the shipped rules.
@Suite struct RulesPreviewTests {
    static let base = "/v1/\(Daemon.workspace)/live"

    @Test(arguments: TestDataSet.Kind.allCases)
    func previewSaysWhatAWriteWouldDoAndWritesNothing(store: TestDataSet.Kind) async throws {
        let daemon = try await Daemon.start(store, arguments: ["--rules", OncedBinary.shippedRules])
        let seeded = try await daemon.post("\(Self.base)/profiles/properties/set-once",
                                           #"{"distinct_id": "u1", "$once": {"plan": "pro", "ltv": 5}}"#)
        #expect(seeded.status == 202)

        let preview = try await daemon.post("\(Self.base)/rules/preview", """
            {"distinct_id": "u1", "action": {"$once": {"plan": "Enterprise", "signup_date": "01/10/2020", "cohort": "Cohort 2024 Q1",
             "ltv": "many", "Email": "Ada@Example.com"}, "$add": {"ltv": 2}}}
            """)
        #expect(preview.status == 200, "\(preview.body)")
        guard case .array(let results)? = preview.json?["results"], results.count == 2,
              let once = results[0].objectValue?["properties"]?.objectValue,
              let add = results[1].objectValue?["properties"]?.objectValue else {
            Issue.record("unexpected preview: \(preview.body)")
            return
        }
        func outcome(_ properties: JSONObject, _ name: String) -> JSONObject? { properties[name]?.objectValue }
        // set_once against the stored profile: the first value stays, and the preview shows it.
        #expect(outcome(once, "plan")?["outcome"] == .string("unchanged"))
        #expect(outcome(once, "plan")?["value"] == .string("pro"))
        let rejected = try await daemon.post("\(Self.base)/rules/preview", #"{"distinct_id": "u1", "action": {"$set": {"plan": "basic"}}}"#)
        let plan = rejected.json?["results"].flatMap { if case .array(let all) = $0 { all.first } else { nil } }?
            .objectValue?["properties"]?.objectValue?["plan"]?.objectValue
        #expect(plan?["outcome"] == .string("rejected_by_rule"), "\(rejected.body)")
        #expect(plan?["rule"] == .string("FY12345678 plans"))
        // The rules' normalizations, with the value that would be stored.
        #expect(outcome(once, "signup_date")?["value"] == .string("2020-10-01"))
        #expect(outcome(once, "cohort")?["value"] == .string("cohort_2024_q1"))
        #expect(outcome(once, "email")?["reason"] == .string("renamed from Email"))
        #expect(outcome(once, "email_domain")?["outcome"] == .string("added_by_rule"))
        // The registered type decides: ltv is a number.
        #expect(outcome(once, "ltv")?["outcome"] == .string("ignored_type_mismatch"))
        #expect(outcome(add, "ltv")?["value"] == .integer(7))

        // Nothing was written.
        let profile = try await daemon.get("\(Self.base)/profiles/u1")
        #expect(profile.json?["properties"] == .object(JSONObject([.init("ltv", .integer(5)), .init("plan", .string("pro"))])),
                "\(profile.body)")
        #expect(try await daemon.get("\(Self.base)/profiles/u2").status == 404)
        let none = try await daemon.post("\(Self.base)/rules/preview", #"{"distinct_id": "u2", "action": {"$set": {"plan": "pro"}}}"#)
        #expect(none.status == 200)
        #expect(try await daemon.get("\(Self.base)/profiles/u2").status == 404)
    }

    /// A rule rejecting the whole request is an answer, not a 400.
    @Test func aWholeRequestRejectionIsAnAnswer() async throws {
        let directory = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.path("rules"), withIntermediateDirectories: true)
        try #"return { name = "gate", request = function(req) if req.properties.bot then return once.reject("no bots") end end }"#
            .write(toFile: directory.path("rules/10-gate.lua"), atomically: true, encoding: .utf8)
        let daemon = try await Daemon.start(arguments: ["--rules", directory.path("rules")], directory: directory)
        let reply = try await daemon.post("\(Self.base)/rules/preview", #"{"distinct_id": "u1", "action": {"$set": {"bot": true}}}"#)
        #expect(reply.status == 200)
        #expect(reply.body == #"{"rejected_by_rule":{"rule":"gate","reason":"no bots"}}"#)
    }

    @Test func badBodiesAndOtherWorkspacesAreRefused() async throws {
        let daemon = try await Daemon.start(arguments: ["--rules", OncedBinary.shippedRules, "--max-body-bytes", "2000"])
        for body in ["[]", "{}", #"{"distinct_id": "u1"}"#, #"{"distinct_id": "u1", "action": {}}"#,
                     #"{"distinct_id": "u1", "action": {"$nope": {}}}"#, #"{"distinct_id": "u1", "action": {"extra": 1}}"#,
                     #"{"distinct_id": "", "action": {"$set": {"a": 1}}}"#, #"{"distinct_id": "u1", "action": {"$set": 5}}"#, "not json"] {
            let reply = try await daemon.post("\(Self.base)/rules/preview", body)
            #expect(reply.status == 400, "\(body) → \(reply.status) \(reply.body)")
        }
        let other = try await daemon.post("/v1/\(Daemon.otherWorkspace)/live/rules/preview",
                                          #"{"distinct_id": "u1", "action": {"$set": {"a": 1}}}"#)
        #expect(other.status == 401)
        let large = try await daemon.post("\(Self.base)/rules/preview",
                                          #"{"distinct_id": "u1", "action": {"$set": {"a": ""# + String(repeating: "x", count: 3000) + #""}}}"#)
        #expect(large.status == 413)
    }
}
