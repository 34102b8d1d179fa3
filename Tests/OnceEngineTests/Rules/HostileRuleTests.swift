import Foundation
import Testing
@testable import OnceEngine

/// Rules that misbehave are contained: the property gets a clear outcome and
/// the engine keeps serving, on the same Lua states.
@Suite struct HostileRuleTests {
    static let hostile: [(String, String)] = [
        ("infinite loop", "while true do end"),
        ("loop inside pcall", "pcall(function() while true do end end); return 'escaped'"),
        ("pcall in a loop", "for i = 1, 1e9 do pcall(function() while true do end end) end; return 'escaped'"),
        ("error handler loop", "xpcall(function() while true do end end, function() while true do end end); return 'escaped'"),
        ("string doubling", "local s = 'x'; while true do s = s .. s end"),
        ("string.rep bomb", "return string.rep('x', 1 << 40)"),
        ("table growth", "local t = {}; while true do t[#t + 1] = { 1, 2, 3 } end"),
        ("memory error swallowed", "local ok = pcall(string.rep, 'x', 1 << 30); local s = 'x'; while true do s = s .. s end"),
        ("memory cap caught by pcall", "local ok = pcall(string.rep, 'x', 1 << 30); if not ok then return 'escaped' end"),
        ("string doubling inside pcall",
         "local ok = pcall(function() local s = 'x'; while true do s = s .. s end end); if not ok then return 'escaped' end"),
        ("os.execute", "os.execute('touch /tmp/onced-pwned')"),
        ("io.open", "io.open('/etc/passwd')"),
        ("load", "load('return 1')()"),
        ("loadstring", "loadstring('return 1')()"),
        ("require", "require('os')"),
        ("debug", "debug.sethook()"),
        ("dofile", "dofile('/etc/passwd')"),
        ("loadfile", "loadfile('/etc/passwd')"),
        ("package", "package.loadlib('libc.so.6', 'system')"),
        ("collectgarbage", "collectgarbage('stop')"),
        ("rawset on a library", "rawset(string, 'upper', nil)"),
        ("string.dump", "return string.dump(function() end)"),
        ("runtime error", "error('boom')"),
        ("error with a table", "error({})"),
        ("returned function", "return print or function() end"),
        ("returned non-sequence", "return { x = 1 }"),
        ("modify once", "once.reject = nil"),
        ("modify a global", "injected = true"),
        ("modify a library", "string.upper = nil"),
        ("modify the string metatable", "getmetatable('').__index.upper = nil"),
        ("replace a library's metatable", "setmetatable(string, {})"),
        ("deep recursion", "local function f(n) return f(n + 1) + 1 end; return f(1)"),
        ("nested tables too deep", "local t = {}; local c = t; for i = 1, 100 do c[1] = {}; c = c[1] end; c[1] = 1; return t"),
        ("invalid UTF-8", "return '\\xff\\xfe'"),
        ("__gc finalizer loop", "setmetatable({}, { __gc = function() while true do end end })"),
        ("loop in a __close", "do local x <close> = setmetatable({}, { __close = function() while true do end end }) end"),
    ]

    @Test func everyHostileRuleIsContainedAndTheEngineKeepsServing() async throws {
        var body = ""
        for (index, (_, code)) in Self.hostile.enumerated() {
            body += "if name == 'h\(index)' then \(code) end\n"
        }
        body += "if name == 'benign' then return string.upper(value) end"
        let rules = try RulesEngine(["r.lua": propertyRule(body, #"name = "hostile", on_error = "reject","#)],
                                    limits: RuleLimits(callTimeout: .milliseconds(5), memoryBytes: 8 * 1024 * 1024))
        for (index, (title, _)) in Self.hostile.enumerated() {
            let results = try await rules.results(#"{"$set": {"h\#(index)": "x", "benign": "ok\#(index)"}}"#)
            let result = try #require(results["h\(index)"])
            #expect(result.outcome == .rejectedByRule, "\(title): \(result)")
            #expect(result.reason?.hasPrefix("rule failed") == true, "\(title): \(result.reason ?? "")")
            #expect(try await rules.value("benign") == .string("OK\(index)"), "after \(title)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/onced-pwned"))
        #expect(rules.runtime.stats.budgetAborts >= 8)
        // The library tables and once are intact for everyone.
        let check = try RulesEngine(["r.lua": propertyRule("return tostring(string.upper ~= nil and once.reject ~= nil and injected == nil)")])
        try await check.submit(#"{"$set": {"p": 1}}"#)
        #expect(try await check.value("p") == .string("true"))
    }

    @Test func budgetsNameTheLimit() async throws {
        let rules = try RulesEngine(["r.lua": propertyRule("""
            if name == "cpu" then while true do end end
            if name == "mem" then local t = {}; for i = 1, 1e7 do t[i] = i end end
            """, #"on_error = "reject","#)], limits: RuleLimits(callTimeout: .milliseconds(20), memoryBytes: 1024 * 1024))
        let results = try await rules.results(#"{"$set": {"cpu": 1, "mem": 1}}"#)
        #expect(results["cpu"]?.reason?.contains("rule budget exceeded (20 ms)") == true, "\(String(describing: results["cpu"]))")
        #expect(results["mem"]?.reason?.contains("memory limit of 1048576 bytes exceeded") == true)
    }

    /// SPEC §4: an allocation the cap refused fails the hook even when the rule's own pcall caught it.
    @Test func aPcallCannotSwallowTheMemoryCap() async throws {
        let rules = try RulesEngine(["r.lua": propertyRule("""
            if name == "rep" then local ok = pcall(string.rep, "x", 1 << 30); if not ok then return "escaped" end end
            if name == "double" then
              local ok = pcall(function() local s = "x"; while true do s = s .. s end end)
              if not ok then return "escaped" end
            end
            return "fine"
            """, #"on_error = "reject","#)],
            // CPU budgets far beyond what the doubling costs, so on a loaded machine only the memory cap can trip.
            limits: RuleLimits(callTimeout: .seconds(5), requestBudget: .seconds(10), memoryBytes: 4 * 1024 * 1024))
        let results = try await rules.results(#"{"$set": {"rep": "x", "double": "x", "other": "x"}}"#)
        for name in ["rep", "double"] {
            #expect(results[name]?.outcome == .rejectedByRule, "\(name): \(String(describing: results[name]))")
            #expect(results[name]?.reason?.contains("memory limit of 4194304 bytes exceeded") == true, "\(name)")
            #expect(try await rules.value(name) == nil)
        }
        #expect(try await rules.value("other") == .string("fine"))
    }

    @Test func aHostileRequestHookRejectsUnderOnErrorReject() async throws {
        let rules = try RulesEngine(["r.lua": "return { name = 'spin', on_error = 'reject', request = function() while true do end end }"],
                                    limits: RuleLimits(callTimeout: .milliseconds(5)))
        await #expect(throws: RuleRejection.self) { try await rules.submit(#"{"$set": {"a": 1}}"#) }
        #expect(try await rules.engine.profile("user-1", in: TestEngine.namespace) == nil)
    }

    @Test func hostileTopLevelCodeFailsTheLoad() throws {
        let directory = TemporaryDirectory()
        try "while true do end".write(toFile: directory.path("spin.lua"), atomically: true, encoding: .utf8)
        #expect { try RuleSet(directory: directory.url.path, limits: RuleLimits(callTimeout: .milliseconds(5))) } throws: { error in
            (error as? RuleSetError)?.errors.first?.message.contains("budget") == true
        }
    }
}
