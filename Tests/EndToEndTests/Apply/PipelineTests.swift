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

    /// 100,000 lines through `apply --db` with peak memory no higher than for 10,000 (plus slack).
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
            let run = try await OncedBinary.run(["apply", "--db", directory.path("o.db"), "--synchronous", "normal"],
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
        let process = Process()
        process.executableURL = example
        process.arguments = [directory.path("e.db"), OncedBinary.shippedRules]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(text == """
            plan: set
            signup_date: set
            plan: unchanged
            signup_date: unchanged
            plan = "pro", signup_date = "2020-10-01"

            """)
    }
}
