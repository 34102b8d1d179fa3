import Foundation
import Testing
@testable import OnceEngine

/// SPEC §4, clause by clause, each with its own small rule, through the engine.
@Suite struct RuleContractTests {
    @Test func rulesRunInLexicalOrderAsAChain() async throws {
        let rules = try RulesEngine([
            "20-b.lua": propertyRule("return value .. 'b'"),
            "10-a.lua": propertyRule("return value .. 'a'"),
            "9-c.lua": propertyRule("return value .. 'c'"),  // "9-" sorts after "20-"
        ])
        try await rules.submit(#"{"$set": {"p": "x"}}"#)
        #expect(try await rules.value("p") == .string("xabc"))
    }

    /// Each hook sees the chain so far: an earlier rule's replacements and renames,
    /// and its own fresh copy of a list (a hook that changes the list in place and
    /// returns nothing keeps the value as it was). An integer handed back as a
    /// float is a change, not a keep.
    @Test func eachHookSeesTheChainSoFar() async throws {
        let rules = try RulesEngine([
            "10-a.lua": propertyRule("""
                if name == "l" then table.insert(value, "x") return end
                if name == "n" then return value + 0.0 end
                if name == "old" then return once.rename("new", value .. "1") end
                if name == "s" then return value .. "a" end
                """),
            "20-b.lua": propertyRule("""
                if name == "l" then return #value end
                if name == "n" then return math.type(value) end
                if name == "new" then return value .. "2" end
                if name == "s" then return value .. "b" end
                """),
        ])
        try await rules.submit(#"{"$set": {"l": ["a"], "n": 3, "old": "v", "s": "x"}}"#)
        #expect(try await rules.value("l") == .integer(1))
        #expect(try await rules.value("n") == .string("float"))
        #expect(try await rules.value("new") == .string("v12"))
        #expect(try await rules.value("old") == nil)
        #expect(try await rules.value("s") == .string("xab"))
    }

    @Test func returnProtocol() async throws {
        let rules = try RulesEngine(["r.lua": propertyRule("""
            if name == "keep" then return end
            if name == "replace" then return 42 end
            if name == "reject" then return once.reject("no " .. name) end
            if name == "Rename" then return once.rename("renamed", value .. "!") end
            """, #"name = "contract","#)])
        let results = try await rules.results(#"{"$set": {"keep": "k", "replace": "r", "reject": "x", "Rename": "v"}}"#)
        #expect(results["keep"]?.outcome == .set)
        #expect(try await rules.value("keep") == .string("k"))
        #expect(try await rules.value("replace") == .integer(42))
        #expect(results["reject"] == PropertyResult(name: "reject", outcome: .rejectedByRule, reason: "no reject", rule: "contract"))
        #expect(try await rules.value("reject") == nil)
        #expect(results["renamed"] == PropertyResult(name: "renamed", outcome: .set, reason: "renamed from Rename", rule: "contract"))
        #expect(try await rules.value("renamed") == .string("v!"))
        #expect(try await rules.value("Rename") == nil)
    }

    @Test func nameDefaultsToTheFileName() async throws {
        let rules = try RulesEngine(["10-no-name.lua": propertyRule(#"return once.reject("r")"#)])
        #expect(try await rules.results(#"{"$set": {"p": 1}}"#)["p"]?.rule == "10-no-name")
    }

    @Test func opsFilter() async throws {
        let rules = try RulesEngine(["r.lua": propertyRule("return 'ruled'", #"ops = { "set" },"#)])
        try await rules.submit(#"{"$once": {"a": "x"}, "$set": {"b": "x"}}"#)
        #expect(try await rules.value("a") == .string("x"))
        #expect(try await rules.value("b") == .string("ruled"))
    }

    @Test func defaultOpsAreThoseCarryingValues() async throws {
        let rules = try RulesEngine(["r.lua": propertyRule("return once.reject('no')")])
        try await rules.submit(#"{"$once": {"a": "x"}}"#)  // rejected: nothing stored, profile created
        let results = try await rules.results(#"{"$unset": ["a"]}"#)
        #expect(results["a"]?.outcome == .unchanged)  // the rule did not run on unset
        #expect(try await rules.results(#"{"$add": {"n": 1}}"#)["n"]?.outcome == .rejectedByRule)
    }

    @Test func workspacesFilter() async throws {
        let rules = try RulesEngine(["r.lua": propertyRule("return 'ruled'", #"workspaces = { "FY12345678" },"#)])
        try await rules.submit(#"{"$set": {"p": "x"}}"#)
        let other = Namespace(workspace: "OTHER", version: .live)
        try await rules.submit(#"{"$set": {"p": "x"}}"#, namespace: other)
        #expect(try await rules.value("p") == .string("ruled"))
        #expect(try await rules.value("p", namespace: other) == .string("x"))
    }

    @Test func propertiesPatternFilter() async throws {
        let rules = try RulesEngine(["r.lua": propertyRule("return 'ruled'", #"properties = "^cohort","#)])
        try await rules.submit(#"{"$set": {"cohort_a": "x", "my_cohort": "x"}}"#)
        #expect(try await rules.value("cohort_a") == .string("ruled"))
        #expect(try await rules.value("my_cohort") == .string("x"))
    }

    @Test func requestHookEnrichesAndRunsBeforeThePropertyHook() async throws {
        let rules = try RulesEngine(["r.lua": """
            return {
              name = "enrich",
              request = function(req, ctx) req.properties.added = "from request" end,
              property = function(name, value, ctx)
                if name == "added" then return value .. ", then property" end
              end,
            }
            """])
        let results = try await rules.results(#"{"$set": {"p": 1}}"#)
        #expect(results["added"] == PropertyResult(name: "added", outcome: .addedByRule, rule: "enrich"))
        #expect(try await rules.value("added") == .string("from request, then property"))
    }

    @Test func requestHookCanChangeAndRemove() async throws {
        let rules = try RulesEngine(["r.lua": """
            return { request = function(req, ctx)
              req.properties.doubled = req.properties.doubled * 2
              req.properties.dropped = nil
              req.properties.float = req.properties.float + 0.0
            end }
            """])
        let results = try await rules.results(#"{"$set": {"doubled": 21, "dropped": "x", "float": 3}}"#)
        #expect(try await rules.value("doubled") == .integer(42))
        // An integer handed back as an equal float is a change, as for property hooks.
        #expect(try await rules.value("float") == .decimal(3.0))
        #expect(results["dropped"]?.outcome == .rejectedByRule)
        #expect(try await rules.value("dropped") == nil)
    }

    /// What a request hook does to `req.properties` counts however it does it:
    /// a list changed in place, or the table replaced by a new one.
    @Test func requestHookChangesInPlaceOrWhole() async throws {
        let inPlace = try RulesEngine(["r.lua": """
            return { request = function(req, ctx) table.insert(req.properties.tags, "b") end }
            """])
        try await inPlace.submit(#"{"$set": {"tags": ["a"], "plan": "pro"}}"#)
        #expect(try await inPlace.value("tags")?.json.text == #"["a","b"]"#)
        #expect(try await inPlace.value("plan") == .string("pro"))

        let whole = try RulesEngine(["r.lua": """
            return { name = "whole", request = function(req, ctx)
              req.properties = { kept = req.properties.kept, fresh = "new" }
            end }
            """])
        let results = try await whole.results(#"{"$set": {"kept": 1, "gone": 2}}"#)
        #expect(try await whole.value("kept") == .integer(1))
        #expect(results["gone"]?.outcome == .rejectedByRule)
        #expect(results["fresh"] == PropertyResult(name: "fresh", outcome: .addedByRule, rule: "whole"))
    }

    @Test(arguments: ["req.properties = 5", #"req.properties = { "x" }"#, #"req.properties[1] = "x""#,
                      "req.properties.f = function() end", "req.properties.t = { 1, nil, 3 }"])
    func wronglyShapedRequestPropertiesFail(body: String) async throws {
        let rules = try RulesEngine(["r.lua": """
            return { name = "shape", on_error = "reject", request = function(req, ctx) \(body) end }
            """])
        do {
            try await rules.submit(#"{"$set": {"p": "x"}}"#, distinctID: "shaped")
            Issue.record("\(body) was not a failure")
        } catch let rejection as RuleRejection {
            #expect(rejection.rule == "shape")
            #expect(rejection.reason.hasPrefix("rule failed"), "\(rejection.reason)")
        }
        #expect(try await rules.engine.profile("shaped", in: TestEngine.namespace) == nil)
    }

    @Test func requestRejectionWritesNothing() async throws {
        let rules = try RulesEngine(["r.lua": """
            return { name = "gate", request = function(req, ctx)
              if req.properties.spam then return once.reject("spam is not welcome") end
            end }
            """])
        await #expect(throws: RuleRejection(rule: "gate", reason: "spam is not welcome")) {
            try await rules.submit(#"{"$set": {"a": 1, "spam": true}}"#, distinctID: "spammer")
        }
        #expect(try await rules.engine.profile("spammer", in: TestEngine.namespace) == nil)
        #expect(try await rules.engine.registeredTypes(in: TestEngine.namespace).isEmpty)
    }

    @Test func onErrorKeepAndReject() async throws {
        let rules = try RulesEngine([
            "10-keep.lua": propertyRule(#"if name == "k" then error("boom") end"#),
            "20-reject.lua": propertyRule(#"if name == "r" then error("boom") end"#, #"name = "strict", on_error = "reject","#),
        ])
        let results = try await rules.results(#"{"$set": {"k": "kept", "r": "dropped"}}"#)
        #expect(try await rules.value("k") == .string("kept"))
        #expect(results["r"]?.outcome == .rejectedByRule)
        #expect(results["r"]?.rule == "strict")
        #expect(results["r"]?.reason?.contains("boom") == true)
        #expect(rules.runtime.stats.failures == 2)
    }

    @Test(arguments: ["return function() end", "return { a = 1 }", "return { 1, nil, 3 }", "return 0/0", "return ctx"])
    func wronglyShapedReturnsFail(body: String) async throws {
        let rules = try RulesEngine(["r.lua": propertyRule(body, #"on_error = "reject","#)])
        let result = try await rules.results(#"{"$set": {"p": "x"}}"#)["p"]
        #expect(result?.outcome == .rejectedByRule, "\(body) was not a failure")
        #expect(result?.reason?.hasPrefix("rule failed") == true)
    }

    @Test func contextFields() async throws {
        let rules = try RulesEngine(["r.lua": propertyRule("""
            return ctx.workspace .. "|" .. ctx.version .. "|" .. ctx.distinct_id .. "|" .. ctx.op .. "|" .. ctx.request_id .. "|" .. ctx.received_at
            """)])
        let received = Date(timeIntervalSince1970: 1_601_577_000.25)
        let request = WriteRequest(namespace: Namespace(workspace: "W1", version: .test), receivedAt: received, elements: [
            Element(distinctID: "d1", ops: [OpInput(op: .setOnce, properties: JSONObject([.init("p", .string(""))]))]),
        ])
        let record = try await rules.engine.submit(request)
        let value = try await rules.engine.profile("d1", in: request.namespace)?["p"]
        #expect(value == .string("W1|test|d1|set_once|\(record.id.uuidString.lowercased())|2020-10-01T18:30:00.250Z"))
    }

    /// `ctx` is made once per state and filled on first read: each op still sees its own
    /// distinct_id and op, each request its own id, and a rule cannot write to it.
    @Test func contextFollowsEachOpAndIsReadOnly() async throws {
        let rules = try RulesEngine(["r.lua": propertyRule("""
            if name == "write" then ctx.workspace = "other" return "written" end
            if name == "length" then return #ctx.distinct_id end
            return ctx.distinct_id .. "|" .. ctx.op .. "|" .. ctx.request_id
            """, #"on_error = "reject","#)])
        let long = String(repeating: "😀", count: 255)  // 1,020 bytes: the longest distinct_id
        func properties(_ name: String) -> JSONObject { JSONObject([.init(name, .string(""))]) }
        let request = WriteRequest(namespace: TestEngine.namespace, elements: [
            Element(distinctID: "d1", ops: [OpInput(op: .setOnce, properties: properties("a")), OpInput(op: .set, properties: properties("b"))]),
            Element(distinctID: long, ops: [OpInput(op: .setOnce, properties: properties("length"))]),
        ])
        let first = try await rules.engine.submit(request).id.lowercaseString
        let d1 = try await rules.engine.profile("d1", in: TestEngine.namespace)
        #expect(d1?["a"] == .string("d1|set_once|\(first)"))
        #expect(d1?["b"] == .string("d1|set|\(first)"))
        #expect(try await rules.engine.profile(long, in: TestEngine.namespace)?["length"] == .integer(1020))

        let second = WriteRequest(namespace: TestEngine.namespace, elements: [
            Element(distinctID: "d2", ops: [OpInput(op: .setOnce, properties: properties("a"))]),
        ])
        let secondID = try await rules.engine.submit(second).id.lowercaseString
        #expect(secondID != first)
        #expect(try await rules.engine.profile("d2", in: TestEngine.namespace)?["a"] == .string("d2|set_once|\(secondID)"))

        let written = try await rules.results(#"{"$set": {"write": "x"}}"#)["write"]
        #expect(written?.outcome == .rejectedByRule)
        #expect(written?.reason?.contains("ctx is read-only") == true)
    }

    @Test func typeOfReadsTheNamespaceRegistry() async throws {
        let rules = try RulesEngine(["r.lua": propertyRule(#"if name == "probe" then return ctx.type_of(value) or "new" end"#)])
        try await rules.submit(#"{"$set": {"ltv": 1, "signup": "2020-10-01"}}"#)
        #expect(try await rules.results(#"{"$set": {"probe": "ltv"}}"#)["probe"]?.outcome == .set)
        #expect(try await rules.value("probe") == .string("number"))
        try await rules.submit(#"{"$set": {"probe": "signup"}}"#)
        #expect(try await rules.value("probe") == .string("date"))
        try await rules.submit(#"{"$set": {"probe": "never"}}"#)
        #expect(try await rules.value("probe") == .string("new"))
        let test = Namespace(workspace: TestEngine.namespace.workspace, version: .test)
        try await rules.submit(#"{"$set": {"probe": "ltv"}}"#, namespace: test)
        #expect(try await rules.value("probe", namespace: test) == .string("new"))
    }

    @Test func valuesCrossIntoLuaAndBackUnchanged() async throws {
        let rules = try RulesEngine(["r.lua": propertyRule("return value")])
        try await rules.submit(#"{"$set": {"i": 23000, "d": 20.34, "b": false, "s": "é", "l": ["a", 1, 2.5, "2020-10-01"], "t": "2020-10-01T18:30:00+02:00"}}"#)
        let profile = try #require(try await rules.engine.profile("user-1", in: TestEngine.namespace))
        #expect(profile["i"] == .integer(23000))
        #expect(profile["d"] == .decimal(20.34))
        #expect(profile["b"] == .boolean(false))
        #expect(profile["s"] == .string("é"))
        #expect(profile["l"]?.json.text == #"["a",1,2.5,"2020-10-01"]"#)
        #expect(profile["t"]?.json == .string("2020-10-01T18:30:00+02:00"))
    }

    @Test func onceDate() async throws {
        let rules = try RulesEngine(["r.lua": propertyRule("return once.date(value) or 'nil'")])
        let cases: [(String, String)] = [
            (#""01/10/2020""#, "2020-10-01"), (#""2020/10/01""#, "2020-10-01"), (#""2020-10-01T18:30:00Z""#, "2020-10-01T18:30:00Z"),
            ("1601577000", "2020-10-01T18:30:00Z"), ("1601577000.5", "2020-10-01T18:30:00.500Z"), (#""1601577000""#, "2020-10-01T18:30:00Z"),
            (#""31/02/2020""#, "nil"), (#""tomorrow""#, "nil"), (#""2020-10-01T25:00:00Z""#, "nil"),
        ]
        for (index, (input, expected)) in cases.enumerated() {
            try await rules.submit(#"{"$set": {"p\#(index)": \#(input)}}"#)
            let stored = try await rules.value("p\(index)")
            #expect(stored?.json == .string(expected), "once.date(\(input))")
        }
    }

    @Test func onceLogDoesNotDisturbTheRule() async throws {
        let rules = try RulesEngine(["r.lua": propertyRule(#"for i = 1, 100 do once.log("seen " .. name) end; return "logged""#)])
        try await rules.submit(#"{"$set": {"p": 1}}"#)
        #expect(try await rules.value("p") == .string("logged"))
    }
}
