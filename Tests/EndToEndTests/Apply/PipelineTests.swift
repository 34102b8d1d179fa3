import Foundation
import OnceEngine
import Testing

/// Issue-5 pipeline guarantees: dry runs, bounded memory, and the embedding example.
@Suite struct PipelineTests {
    @Test func dryRunWritesNothing() async throws {
        let directory = TemporaryDirectory()
        let input = [
            applyLine("u1", #""$once": {"Email": "Ada@Example.com", "n": 1}"#),
            applyLine("u1", #""$once": {"n": 2}, "$add": {"n": 5}"#),
            "not json",
        ].joined(separator: "\n")
        let run = try await OncedBinary.run(["apply", "--dry-run", "--rules", OncedBinary.shippedRules], input: Data(input.utf8), directory: directory.url)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.lines.count == 3)
        #expect(run.lines[0].contains(#""email":{"outcome":"set","rule":"email""#))
        // Each line runs against an empty state: the second set_once sets again.
        #expect(run.lines[1].contains(#""op":"set_once","properties":{"n":{"outcome":"set"}}"#))
        #expect(run.lines[2].contains("bad_request"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).isEmpty)
        let both = try await OncedBinary.run(["apply", "--dry-run", "--db", "x.db"], directory: directory.url)
        #expect(both.status != 0)
    }

    /// A line's outcome comes out while stdin stays open: lines are handed on in
    /// chunks, and a chunk never waits for input that has not come. (A chunk
    /// held back would stall this test until its read deadline fails it.)
    @Test(arguments: [["--dry-run"], ["--db", "o.db"]])
    func outcomesComeWhileInputIsStillOpen(store: [String]) async throws {
        let directory = TemporaryDirectory()
        let child = try OncedProcess(["apply"] + store.map { $0 == "o.db" ? directory.path("o.db") : $0 })
        try child.write(applyLine("u1", #""$once": {"n": 1}"#))
        #expect(try await child.nextLine(within: .seconds(30))?.contains(#""line":1"#) == true)
        try child.write("")
        try child.write("not json")
        #expect(try await child.nextLine(within: .seconds(30))?.contains(#""line":3,"error""#) == true)
        try child.write(applyLine("u1", #""$once": {"n": 2}"#))
        #expect(try await child.nextLine(within: .seconds(30))?.contains(#""line":4"#) == true)
        child.closeInput()
        #expect(try await child.nextLine() == nil)
        #expect(try await child.wait() == 0)
    }

    /// 100,000 lines through `apply --db` with peak memory no higher than for 10,000 (plus slack).
    /// SQLite's page cache is held at 2 MiB: it fills up to its size as the file grows, which is not the pipeline's memory.
    /// glibc's per-thread malloc arenas make peak RSS depend on scheduling; two arenas keep
    /// the figure about the program's data rather than about how busy the machine is.
    @Test func memoryStaysBoundedOnLongInputs() async throws {
        func peakRSS(lines: Int) async throws -> Int {
            let directory = TemporaryDirectory()
            var input = ""
            input.reserveCapacity(lines * 110)
            for index in 0..<lines {
                input += applyLine("user-\(index)", #""$once": {"plan": "pro", "n": \#(index), "vip": true}"#) + "\n"
            }
            let run = try await OncedBinary.run(["apply", "--db", directory.path("o.db"), "--synchronous", "normal", "--sqlite-cache-mib", "2"],
                                          input: Data(input.utf8), environment: ["MALLOC_ARENA_MAX": "2"])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.lines.count == lines)
            let summary = try #require(run.stderr.range(of: "peak memory "))
            return Int(run.stderr[summary.upperBound...].prefix { $0.isNumber })!
        }
        let small = try await peakRSS(lines: 10_000)
        let large = try await peakRSS(lines: 100_000)
        #expect(large < small + 32 * 1024, "peak RSS grew from \(small) KiB to \(large) KiB")
    }

    @Test func theEmbeddingExampleRuns() async throws {
        let directory = TemporaryDirectory()
        let example = OncedBinary.url.deletingLastPathComponent().appendingPathComponent("embed-example")
        let child = try ChildProcess(example.path, [directory.path("e.db"), OncedBinary.shippedRules], stdout: .pipe)
        let finished = try await offload { try child.run(timeout: .seconds(60)) }
        let text = String(decoding: finished.stdout, as: UTF8.self)
        #expect(finished.status == 0)
        #expect(text == """
            plan: set
            signup_date: set
            plan: unchanged
            signup_date: unchanged
            plan = "pro", signup_date = "2020-10-01"

            """)
    }
}
