import Foundation
import Testing
@testable import OnceEngine

@Suite struct RuleLoadingTests {
    func load(_ source: String, file: String = "bad.lua") -> RuleLoadError? {
        do {
            _ = try RuleSet(sources: [RuleSource(file: file, source: source)])
            return nil
        } catch {
            return error.errors.first
        }
    }

    @Test(arguments: [
        ("return {", "bad.lua", 1, "expected"),
        ("local x = 1\nlocal y = = 2\nreturn {}", "bad.lua", 2, "unexpected symbol"),
        ("return 42", "bad.lua", 0, "must return a table"),
        ("return {}", "bad.lua", 0, "needs a property or a request function"),
        ("return { property = 1 }", "bad.lua", 0, "property must be a function"),
        ("return { ops = { 'delete' }, property = function() end }", "bad.lua", 0, "unknown op"),
        ("return { ops = 'set', property = function() end }", "bad.lua", 0, "ops must be a list of strings"),
        ("return { on_error = 'ignore', property = function() end }", "bad.lua", 0, "on_error"),
        ("return { properties = '[', property = function() end }", "bad.lua", 0, "not a valid Lua pattern"),
        ("return { name = 7, property = function() end }", "bad.lua", 0, "name must be a string"),
        ("error('at load')", "bad.lua", 1, "at load"),
        ("x = 1", "bad.lua", 1, "read-only"),
        ("\u{1B}Lua", "bad.lua", 0, "binary"),
    ])
    func reportsFileLineAndMessage(source: String, file: String, line: Int, message: String) throws {
        let error = try #require(load(source))
        #expect(error.file == file)
        #expect(error.line == line, "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func reportsEveryBrokenFile() throws {
        let error = #expect(throws: RuleSetError.self) {
            try RuleSet(sources: [RuleSource(file: "a.lua", source: "return"), RuleSource(file: "b.lua", source: "return {"),
                                  RuleSource(file: "c.lua", source: "return { property = function() end }")])
        }
        #expect(error?.errors.map(\.file) == ["a.lua", "b.lua"])
    }

    @Test func readsOnlyLuaFilesInLexicalOrder() throws {
        let directory = TemporaryDirectory()
        for name in ["b.lua", "a.lua", "10.lua", "notes.txt", ".hidden.lua"] {
            try "return { property = function() end }".write(toFile: directory.path(name), atomically: true, encoding: .utf8)
        }
        #expect(try RuleSource.read(directory: directory.url.path).map(\.file) == ["10.lua", "a.lua", "b.lua"])
        #expect(throws: RuleSetError.self) { try RuleSource.read(directory: directory.path("missing")) }
        try String(repeating: "-", count: RuleSource.maxBytes + 1).write(toFile: directory.path("huge.lua"), atomically: true, encoding: .utf8)
        #expect { try RuleSource.read(directory: directory.url.path) } throws: { error in
            (error as? RuleSetError)?.errors.first?.message.contains("larger than") == true
        }
    }

    @Test func ruleTestsReportPassesAndDifferences() throws {
        let set = try RuleSet(sources: [RuleSource(file: "t.lua", source: """
            return {
              workspaces = { "W" },
              request = function(req, ctx) if req.properties.stop then return once.reject("stop") end end,
              property = function(name, value, ctx)
                if name == "drop" then return once.reject("dropped") end
                if type(value) == "string" then return value:upper() end
              end,
              tests = {
                { input = { a = "x" }, expect = { a = "X" } },
                { input = { a = "x" }, expect = { a = "x" } },
                { input = { drop = 1, b = 2 }, expect = { b = 2 }, rejected = { "drop" } },
                { input = { stop = true }, request_rejected = true },
                { input = { a = "x" }, ctx = { workspace = "OTHER" }, expect = { a = "x" } },
                { input = { a = "x" }, ctx = { op = "unset" }, expect = { a = "x" } },
                { input = { a = "x" } },
              },
            }
            """)])
        let report = set.runTests()
        #expect(report.passed == 5)
        #expect(report.failures == [
            #"t.lua: test 2: expected {"a":"x"}, got {"a":"X"}"#,
            "t.lua: test 7: a test needs expect, rejected or request_rejected",
        ])
        #expect(report.summary == "5 passed, 2 failed")
    }

    @Test func shippedRulesLoadAndPassTheirTests() throws {
        let rulesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../rules").standardized.path
        let set = try RuleSet(directory: rulesDirectory)
        #expect(set.rules.count >= 6)
        let report = set.runTests()
        #expect(report.failed == 0, "\(report.failures)")
        #expect(report.passed >= 20)
    }
}
