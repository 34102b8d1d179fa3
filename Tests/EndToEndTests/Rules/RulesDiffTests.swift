import Foundation
import OnceEngine
import Testing

/// `onced rules diff OLD NEW` (SPEC §10), through the real binary over pipes.
@Suite struct RulesDiffTests {
    func rulesDirectory(_ files: [String: String]) throws -> TemporaryDirectory {
        let directory = TemporaryDirectory()
        for (name, source) in files { try source.write(toFile: directory.path(name), atomically: true, encoding: .utf8) }
        return directory
    }

    /// The old rules, and a new version that changes one value, rejects what was
    /// kept and keeps what was rejected, renames, adds, and hands a number
    /// property a string; lines it does not touch print nothing.
    static let old = """
        return { name = "shape", property = function(name, value)
          if name == "v" then return value .. "-old" end
          if name == "gone" then return once.reject("old says no") end
        end }
        """
    static let new = """
        return { name = "shape",
          request = function(req) if req.properties.email then req.properties.domain = "b.io" end end,
          property = function(name, value)
            if name == "v" then return value .. "-new" end
            if name == "kept" then return once.reject("new says no") end
            if name == "old_name" then return once.rename("new_name", value) end
            if name == "n" then return "many" end
          end }
        """

    @Test func everyKindOfDifference() async throws {
        let old = try rulesDirectory(["10-shape.lua": Self.old])
        let new = try rulesDirectory(["10-shape.lua": Self.new])
        let data = TemporaryDirectory()
        // `n` is registered as a number in the store the diff reads types from.
        let seed = try await OncedBinary.run(["apply", "--db", data.path("o.db")],
                                             input: Data((applyLine("seed", #""$set": {"n": 1}"#) + "\n").utf8))
        #expect(seed.status == 0, "\(seed.stderr)")
        let lines = [
            applyLine("u1", #""$once": {"v": "a", "same": "x"}"#),
            applyLine("u2", #""$set": {"same": "x"}"#),
            applyLine("u3", #""$set": {"gone": "g", "kept": "k"}"#),
            applyLine("u4", #""$once": {"old_name": "o", "email": "a@b.io"}"#),
            applyLine("u5", #""$set": {"n": 2}"#),
            applyLine("u6", #""$set": {"n": 2}"#, workspace: "OTHERSPACE"),
        ]
        let run = try await OncedBinary.run(["rules", "diff", old.url.path, new.url.path, "--db", data.path("o.db")],
                                            input: Data(lines.joined(separator: "\n").utf8))
        #expect(run.status == 0, "\(run.stderr)")
        let output = try run.lines.map(parseOutput)
        #expect(output.map { $0["line"] } == [.integer(1), .integer(3), .integer(4), .integer(5), .integer(6)], "\(run.stdout)")

        func differences(_ line: Int) -> [String: JSONObject] {
            let entry = output.first { $0["line"] == .integer(Int64(line)) }
            var byName: [String: JSONObject] = [:]
            guard case .array(let all)? = entry?["differences"] else { return [:] }
            for case .object(let difference) in all {
                byName[difference["property"]?.stringValue ?? ""] = difference
            }
            return byName
        }
        let changed = try #require(differences(1)["v"])
        #expect(JSON.object(changed).text == #"{"distinct_id":"u1","op":"set_once","property":"v","old":{"outcome":"set","value":"a-old"},"new":{"outcome":"set","value":"a-new"}}"#)
        #expect(differences(1)["same"] == nil)
        #expect(differences(3)["gone"]?["old"]?.objectValue?["outcome"] == .string("rejected_by_rule"))
        #expect(differences(3)["gone"]?["new"]?.objectValue?["value"] == .string("g"))
        #expect(differences(3)["kept"]?["new"]?.objectValue?["reason"] == .string("new says no"))
        #expect(differences(4)["old_name"]?["new"] == .null)
        #expect(differences(4)["new_name"]?["old"] == .null)
        #expect(differences(4)["new_name"]?["new"]?.objectValue?["reason"] == .string("renamed from old_name"))
        #expect(differences(4)["domain"]?["new"]?.objectValue?["outcome"] == .string("added_by_rule"))
        // Types come from the store, per namespace: `n` is a number only in FY12345678.
        #expect(differences(5)["n"]?["new"]?.objectValue?["outcome"] == .string("ignored_type_mismatch"))
        #expect(differences(6)["n"]?["new"]?.objectValue?["outcome"] == .string("set"))
        #expect(differences(6)["n"]?["new"]?.objectValue?["value"] == .string("many"))

        let summary = try #require(run.stderr.split(separator: "\n").last)
        #expect(summary == "onced rules diff: 6 lines, 5 differ (newly rejected: 1, no longer rejected: 1, renamed: 2, added: 1, "
            + "type outcome changed: 1, values changed: 2)", "\(run.stderr)")
        // Nothing was written: the store still has only the seed.
        let profile = try await OncedBinary.run(["apply", "--db", data.path("o.db")],
                                                input: Data((applyLine("u5", #""$unset": ["n"]"#) + "\n").utf8))
        #expect(profile.stdout.contains(#""outcome":"unchanged""#), "\(profile.stdout)")
    }

    @Test func aBrokenDirectoryExitsOne() async throws {
        let good = try rulesDirectory(["10-shape.lua": Self.old])
        let broken = try rulesDirectory(["10-shape.lua": Self.old, "20-broken.lua": "return {"])
        let run = try await OncedBinary.run(["rules", "diff", good.url.path, broken.url.path], input: Data())
        #expect(run.status == 1)
        #expect(run.stderr.contains("20-broken.lua:1:"), "\(run.stderr)")
        #expect(run.stdout.isEmpty)
        let missing = try await OncedBinary.run(["rules", "diff", good.url.path, good.path("nowhere")], input: Data())
        #expect(missing.status == 1, "\(missing.stderr)")
    }

    /// Lines that are no write are said on stderr with their number; the run goes on.
    @Test func badLinesAreReportedAndSkipped() async throws {
        let old = try rulesDirectory(["10-shape.lua": Self.old])
        let new = try rulesDirectory(["10-shape.lua": Self.new])
        let lines = [
            "not json",
            String(repeating: "x", count: 5_000),
            #"{"workspace": "FY12345678", "version": "live", "$set": {"v": "a"}}"#,
            "",
            applyLine("u1", #""$set": {"v": "a"}"#),
            "\u{00}\u{FF}{",
        ]
        let run = try await OncedBinary.run(["rules", "diff", old.url.path, new.url.path, "--max-line-bytes", "4096"],
                                            input: Data(lines.joined(separator: "\n").utf8))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try run.lines.map(parseOutput).map { $0["line"] } == [.integer(5)])
        let problems = run.stderr.split(separator: "\n").filter { $0.contains(": line ") }
        #expect(problems.map { $0.split(separator: ":")[1] } == [" line 1", " line 2", " line 3", " line 6"], "\(run.stderr)")
        #expect(problems[1].contains("longer than 4096 bytes"))
        #expect(problems[2].contains("distinct_id"), "\(problems[2])")
        #expect(run.stderr.hasSuffix("onced rules diff: 5 lines, 1 differ, 4 malformed (values changed: 1)\n"), "\(run.stderr)")
    }
}
