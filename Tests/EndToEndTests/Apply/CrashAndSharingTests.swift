import Foundation
import OnceEngine
import Testing

@Suite struct CrashAndSharingTests {
    static let namespace = Namespace(workspace: "FY12345678", version: .live)

    /// A child acknowledges writes and is killed with SIGKILL while more are in
    /// flight; on reopen, every acknowledged write is there.
    @Test(arguments: TestDataSet.Kind.allCases)
    func acknowledgedWritesSurviveSIGKILL(store: TestDataSet.Kind) async throws {
        let dataSet = try await TestDataSet.fresh(store)
        let child = try OncedProcess(["apply"] + dataSet.arguments)
        let feeder = Thread {
            for index in 0..<100_000 {
                guard (try? child.write(applyLine("u\(index)", #""$once": {"a": \#(index), "b": "x\#(index)", "c": true}"#))) != nil else { return }
            }
        }
        feeder.start()
        var acknowledged: [(line: Int64, requestID: UUID)] = []
        while acknowledged.count < 500, let line = try await child.nextLine() {
            let output = try parseOutput(line)
            guard case .integer(let number)? = output["line"],
                  let id = output["request_id"]?.stringValue.flatMap(UUID.init(uuidString:)) else {
                Issue.record("unexpected output \(line)")
                break
            }
            acknowledged.append((number, id))
        }
        try await child.kill()
        #expect(acknowledged.count == 500)

        let engine = Engine(store: try await dataSet.open())
        for (line, requestID) in acknowledged {
            let index = line - 1
            let profile = try await engine.profile("u\(index)", in: Self.namespace)
            #expect(profile?["a"] == .integer(index))
            #expect(profile?["b"] == .string("x\(index)"))
            #expect(profile?["c"] == .boolean(true))
            #expect(try await engine.record(requestID, in: Self.namespace) != nil)
        }
        try await engine.close()
    }

    /// Two `onced apply` processes set-once the same properties of the same
    /// profiles in one data set: exactly one `set` per property overall,
    /// and the stored value is the winner's.
    @Test(arguments: TestDataSet.Kind.allCases)
    func twoProcessesOnOneDataSet(store: TestDataSet.Kind) async throws {
        let dataSet = try await TestDataSet.fresh(store)
        try await dataSet.open().close()  // create the schema once, before the race
        @Sendable func input(_ process: Int) -> Data {
            var lines = ""
            for round in 0..<5 {
                for profile in 0..<100 {
                    lines += applyLine("p\(profile)", #""$once": {"winner": \#(process), "round\#(round)": \#(process)}"#) + "\n"
                }
            }
            return Data(lines.utf8)
        }
        async let first = OncedBinary.run(["apply"] + dataSet.arguments, input: input(0))
        async let second = OncedBinary.run(["apply"] + dataSet.arguments, input: input(1))
        let runs = try await [first, second]
        var winners: [String: Int] = [:]  // "profile/property" -> winning process
        for (process, run) in runs.enumerated() {
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.lines.count == 500)
            for line in run.lines {
                let output = try parseOutput(line)
                guard case .array(let results)? = output["results"], let result = results.first?.objectValue,
                      let id = result["distinct_id"]?.stringValue, let properties = result["properties"]?.objectValue else {
                    Issue.record("unexpected output \(line)")
                    continue
                }
                for member in properties.members where member.value.objectValue?["outcome"] == .string("set") {
                    let key = "\(id)/\(member.key)"
                    #expect(winners[key] == nil, "\(key) was set twice")
                    winners[key] = process
                }
            }
        }
        #expect(winners.count == 100 * 6)
        let engine = Engine(store: try await dataSet.open())
        for profile in 0..<100 {
            let stored = try #require(try await engine.profile("p\(profile)", in: Self.namespace))
            for name in ["winner"] + (0..<5).map({ "round\($0)" }) {
                #expect(stored[name] == .integer(Int64(winners["p\(profile)/\(name)"]!)))
            }
        }
        try await engine.close()
    }
}
