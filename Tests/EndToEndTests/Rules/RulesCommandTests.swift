import Foundation
import OnceEngine
import Testing

/// `onced rules check|test` and `apply --rules`, through the real binary.
@Suite struct RulesCommandTests {
    func rulesDirectory(_ files: [String: String]) throws -> TemporaryDirectory {
        let directory = TemporaryDirectory()
        for (name, source) in files { try source.write(toFile: directory.path(name), atomically: true, encoding: .utf8) }
        return directory
    }

    @Test func checkAndTestTheShippedRules() async throws {
        let check = try await OncedBinary.run(["rules", "check", OncedBinary.shippedRules])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("rules loaded"))
        let test = try await OncedBinary.run(["rules", "test", OncedBinary.shippedRules])
        #expect(test.status == 0, "\(test.stdout)")
        #expect(test.lines.last?.hasSuffix(" passed, 0 failed") == true)
    }

    /// SPEC §4: a rule whose own pcall catches the memory cap's refusal still fails.
    @Test func aPcallCannotSwallowTheMemoryCap() async throws {
        let directory = try rulesDirectory(["10-greedy.lua": """
            return { on_error = "reject", property = function(name, value)
              local ok = pcall(string.rep, "x", 1 << 30)
              if not ok then return "escaped" end
            end }
            """])
        let run = try await OncedBinary.run(["apply", "--dry-run", "--rules", directory.url.path, "--rule-memory-mib", "4"],
                                            input: Data((applyLine("u", #""$set": {"plan": "pro"}"#) + "\n").utf8))
        #expect(run.status == 0, "\(run.stderr)")
        let line = try parseOutput(try #require(run.lines.first))
        guard case .array(let results)? = line["results"],
              let plan = results.first?.objectValue?["properties"]?.objectValue?["plan"]?.objectValue else {
            Issue.record("no results: \(run.stdout)")
            return
        }
        #expect(plan["outcome"] == .string("rejected_by_rule"), "\(run.stdout)")
        #expect(plan["reason"]?.stringValue?.contains("memory limit of 4194304 bytes exceeded") == true, "\(run.stdout)")
    }

    /// SPEC §4's per-request budget: a rule burning 8 ms of CPU on each of 600
    /// properties (4.8 s in all) is stopped at 250 ms of the request; the rest of
    /// its calls fail without running, and each call stays inside its own 10 ms.
    @Test func theRequestBudgetFailsTheRestOfARequestsHookCalls() async throws {
        let directory = try rulesDirectory(["10-burn.lua": """
            return { on_error = "reject", property = function(name, value)
              local started = os.clock()
              while os.clock() - started < 0.008 do end
            end }
            """])
        let properties = "{" + (0..<600).map { #""p\#($0)": \#($0)"# }.joined(separator: ",") + "}"
        let run = try await OncedBinary.run(["apply", "--dry-run", "--rules", directory.url.path],
                                            input: Data((applyLine("u", #""$set": \#(properties)"#) + "\n").utf8))
        #expect(run.status == 0, "\(run.stderr)")
        let line = try parseOutput(try #require(run.lines.first))
        guard case .array(let results)? = line["results"], let outcomes = results.first?.objectValue?["properties"]?.objectValue else {
            Issue.record("no results: \(run.stdout.prefix(300))")
            return
        }
        let spent = outcomes.members.map { $0.value.objectValue?["reason"]?.stringValue == "rule failed: request rule budget exceeded (250 ms)" }
        let firstSpent = try #require(spent.firstIndex(of: true), "no call failed on the request budget")
        #expect(firstSpent > 0, "calls inside the budget ran")
        #expect(spent[firstSpent...].allSatisfy { $0 }, "once the budget is spent, every later call fails")
        #expect(outcomes.members[..<firstSpent].allSatisfy { $0.value.objectValue?["outcome"] == .string("set") })
    }

    @Test func checkReportsFileAndLine() async throws {
        let directory = try rulesDirectory(["10-ok.lua": "return { property = function() end }",
                                            "20-bad.lua": "return {\n  property = function(\n}"])
        let run = try await OncedBinary.run(["rules", "check", directory.url.path])
        #expect(run.status != 0)
        #expect(run.stderr.contains(directory.path("20-bad.lua") + ":3:"), "\(run.stderr)")
        #expect(!run.stderr.contains("10-ok.lua"))
    }

    @Test func testReportsFailures() async throws {
        let directory = try rulesDirectory(["t.lua": """
            return {
              property = function(name, value) return value * 2 end,
              tests = { { input = { n = 2 }, expect = { n = 4 } }, { input = { n = 2 }, expect = { n = 5 } } },
            }
            """])
        let run = try await OncedBinary.run(["rules", "test", directory.url.path])
        #expect(run.status != 0)
        #expect(run.stdout.contains(#"t.lua: test 2: expected {"n":5}, got {"n":4}"#), "\(run.stdout)")
        #expect(run.lines.last == "1 passed, 1 failed")
    }

    @Test func applyWithTheShippedRules() async throws {
        let directory = TemporaryDirectory()
        let input = [
            applyLine("u1", #""$once": {"Email": " Ada@Example.COM ", "signup_date": "01/10/2020", "cohort": "Cohort A", "plan": "Gold"}"#),
            applyLine("u1", #""$set": {"cohort": "not a cohort!"}"#),
        ].joined(separator: "\n")
        let run = try await OncedBinary.run(["apply", "--db", directory.path("o.db"), "--rules", OncedBinary.shippedRules], input: Data(input.utf8))
        #expect(run.status == 0, "\(run.stderr)")
        let first = try parseOutput(run.lines[0])
        guard case .array(let results)? = first["results"], let properties = results.first?.objectValue?["properties"]?.objectValue else {
            Issue.record("no results: \(run.lines[0])")
            return
        }
        #expect(properties["email"]?.objectValue?["rule"] == .string("email"))
        #expect(properties["email_domain"]?.objectValue?["outcome"] == .string("added_by_rule"))
        #expect(properties["plan"]?.objectValue?["outcome"] == .string("rejected_by_rule"))
        #expect(run.lines[1].contains("cohort names must match"))
    }

    @Test func applyReportsRequestRejections() async throws {
        let rules = try rulesDirectory(["gate.lua": "return { name = 'gate', request = function(req) return once.reject('closed') end }"])
        let directory = TemporaryDirectory()
        let run = try await OncedBinary.run(["apply", "--db", directory.path("o.db"), "--rules", rules.url.path],
                                      input: Data(applyLine("u", #""$set": {"a": 1}"#).utf8))
        #expect(run.status == 0)
        let error = try #require(try parseOutput(run.lines[0])["error"]?.objectValue)
        #expect(error["code"] == .string("rejected_by_rule"))
        #expect(error["rule"] == .string("gate"))
        #expect(error["reason"] == .string("closed"))
    }

    @Test func applyRefusesABrokenRulesDirectory() async throws {
        let rules = try rulesDirectory(["x.lua": "return 1"])
        let run = try await OncedBinary.run(["apply", "--rules", rules.url.path])
        #expect(run.status != 0)
        #expect(run.stderr.contains("x.lua: a rule file must return a table"))
    }

    @Test func helpListsTheSubcommands() async throws {
        let run = try await OncedBinary.run(["--help"])
        #expect(run.stdout.contains("apply"))
        #expect(run.stdout.contains("rules"))
    }
}
