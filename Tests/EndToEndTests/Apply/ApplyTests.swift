import Foundation
import OnceEngine
import Testing

/// `onced apply` driven through real pipes.
@Suite struct ApplyTests {
    @Test func outputKeepsInputOrderUnderParallelism() async throws {
        let directory = TemporaryDirectory()
        var input = ""
        for index in 0..<2000 {
            input += index % 97 == 13 ? "{broken\n" : applyLine("u\(index)", #""$once": {"n": \#(index), "s": "x"}"#) + "\n"
        }
        let run = try await OncedBinary.run(["apply", "--db", directory.path("o.db"), "--window", "64"], input: Data(input.utf8))
        #expect(run.status == 0)
        #expect(run.lines.count == 2000)
        for (index, line) in run.lines.enumerated() {
            let output = try parseOutput(line)
            #expect(output["line"] == .integer(Int64(index + 1)))
            if index % 97 == 13 {
                #expect(output["error"]?.objectValue?["code"] == .string("bad_request"))
            } else {
                guard case .array(let results)? = output["results"] else { Issue.record("no results: \(line)"); return }
                #expect(results.first?.objectValue?["distinct_id"] == .string("u\(index)"))
            }
        }
        #expect(run.stderr.contains("2000 lines"))
    }

    @Test func malformedAndOversizedLinesGetErrorsAndProcessingContinues() async throws {
        let directory = TemporaryDirectory()
        let lines = [
            applyLine("a", #""$once": {"k": 1}"#),
            "not json",
            #"{"workspace": "W", "version": "prod", "distinct_id": "x", "$set": {}}"#,
            #"{"workspace": "W", "version": "live", "$set": {"k": 1}}"#,
            applyLine("b", #""$once": [1]"#),
            applyLine("c", #""$bogus": {}"#),
            applyLine("d", #""$once": {"k": "\#(String(repeating: "x", count: 5000))"}"#),
            #"{"workspace": "W", "version": "live", "distinct_id": "e", "$set": {"k": "\#u{FF}"}}"#,
            String(repeating: "[", count: 500) + String(repeating: "]", count: 500),
            "",
            applyLine("f", #""$once": {"k": 2}"#),
        ]
        var input = Data(lines.joined(separator: "\n").utf8)
        input.append(contentsOf: Array("\n{\"workspace\": \"W\", \"version\": \"live\", \"distinct_id\": \"".utf8))
        input.append(contentsOf: [0xFF, 0xFE])  // invalid UTF-8 inside a string
        input.append(contentsOf: Array("\", \"$set\": {}}\n".utf8))
        input.append(contentsOf: [0xC3, 0x0A])  // a truncated sequence outside any string
        let run = try await OncedBinary.run(["apply", "--db", directory.path("o.db"), "--max-line-bytes", "4096"], input: input)
        #expect(run.status == 0)
        let outputs = try run.lines.map(parseOutput)
        let errors = outputs.filter { $0["error"] != nil }.map { $0["line"] }
        #expect(errors == [2, 3, 4, 5, 6, 7, 9, 12, 13].map { JSON.integer($0) })
        let messages = outputs.compactMap { $0["error"]?.objectValue?["message"]?.stringValue }
        #expect(messages.contains { $0.contains("longer than 4096 bytes") })
        #expect(messages.contains { $0.contains("version must be") })
        #expect(messages.contains { $0.contains("missing distinct_id") })
        #expect(messages.contains { $0.contains("nesting deeper") })
        #expect(messages.contains { $0.contains("invalid UTF-8") })
        #expect(messages.contains { $0.contains("unexpected byte 0xC3") })
        // Line 8 is valid JSON; ÿ is a fine character. Lines 1 and 11 are applied.
        #expect(outputs.filter { $0["results"] != nil }.map { $0["line"] } == [1, 8, 11].map { JSON.integer($0) })
    }

    @Test func emptyInput() async throws {
        let directory = TemporaryDirectory()
        let run = try await OncedBinary.run(["apply", "--db", directory.path("o.db")])
        #expect(run.status == 0)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.contains("0 lines"))
    }

    @Test(arguments: TestDataSet.Kind.allCases)
    func strictStopsAtTheFirstError(store: TestDataSet.Kind) async throws {
        let dataSet = try await TestDataSet.fresh(store)
        let input = [applyLine("a", #""$once": {"k": 1}"#), "oops", applyLine("b", #""$once": {"k": 1}"#)].joined(separator: "\n")
        let run = try await OncedBinary.run(["apply", "--strict"] + dataSet.arguments, input: Data(input.utf8))
        #expect(run.status != 0)
        #expect(run.lines.count == 2)
        let engine = Engine(store: try await dataSet.open())
        let namespace = Namespace(workspace: "FY12345678", version: .live)
        #expect(try await engine.profile("a", in: namespace) != nil)
        #expect(try await engine.profile("b", in: namespace) == nil)
        try await engine.close()
    }

    @Test func unopenableDatabaseIsAOneLineError() async throws {
        let run = try await OncedBinary.run(["apply", "--db", "/nonexistent-dir/x/o.db"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("cannot open"))
    }

    /// Bad `--postgres` URLs, SQLite settings given for PostgreSQL or out of range, and unreachable
    /// servers fail fast with one clear line, whatever the command.
    @Test(arguments: [
        (["apply", "--postgres", "mysql://u@h/db"], "expected postgres://"),
        (["apply", "--postgres", "postgres://h/db"], "names no user"),
        (["apply", "--postgres", "postgres://u@h/"], "names no database"),
        (["apply", "--postgres", "postgres://u@h/db?sslmode=maybe"], "sslmode is"),
        (["apply", "--postgres", "postgres://u@h/db", "--db", "x.db"], "name two stores"),
        (["serve", "--postgres", "postgres://u@h/db", "--synchronous", "normal"], "SQLite settings"),
        (["serve", "--postgres", "postgres://u@h/db", "--sqlite-cache-mib", "8"], "SQLite settings"),
        (["apply", "--sqlite-cache-mib", "0"], "--sqlite-cache-mib takes 1 to 65536"),
        (["apply", "--sqlite-cache-mib", "lots"], "sqlite-cache-mib"),
        (["keys", "create", "FY12345678", "--postgres", "postgres://u@127.0.0.1:1/db?sslmode=disable"], "cannot open postgres://u@127.0.0.1:1/db"),
    ])
    func badPostgresURLs(arguments: [String], expected: String) async throws {
        let run = try await OncedBinary.run(arguments)
        #expect(run.status != 0)
        #expect(run.stderr.contains(expected), "\(run.stderr)")
        #expect(!run.stderr.contains("Fatal error"))
    }

    /// What `apply --db X` wrote, the library reads back from X.
    @Test(arguments: TestDataSet.Kind.allCases)
    func libraryReadsWhatApplyWrote(store: TestDataSet.Kind) async throws {
        let dataSet = try await TestDataSet.fresh(store)
        let input = applyLine("XXXXXXXX", #""$once": {"plan": "pro", "signup": "2020-10-01", "ltv": 20.34}"#)
        let run = try await OncedBinary.run(["apply"] + dataSet.arguments, input: Data(input.utf8))
        #expect(run.status == 0)
        let engine = Engine(store: try await dataSet.open())
        let namespace = Namespace(workspace: "FY12345678", version: .live)
        let profile = try #require(try await engine.profile("XXXXXXXX", in: namespace))
        #expect(profile["plan"] == .string("pro"))
        #expect(profile["ltv"] == .decimal(20.34))
        #expect(try await engine.registeredTypes(in: namespace)["signup"] == .date)
        let requestID = try #require(try parseOutput(run.lines[0])["request_id"]?.stringValue.flatMap(UUID.init(uuidString:)))
        #expect(try await engine.record(requestID, in: namespace)?.propertyResults.count == 3)
        try await engine.close()
    }
}
