// Cohort query latency through the library, no HTTP: the best of 5 runs of
// a first page (100 profiles) and of a count, for a filter, on a SQLite file.
//
//   query-latency DB FILTER_JSON [ROUNDS [page|count]]    prints "PAGE_SECONDS COUNT_SECONDS"
//
// ROUNDS (5 unless given) more makes a steady load to profile; `page` or
// `count` asks only that question (the other's time prints as 0). The questions
// are asked from a task off the main actor, as a library's caller would: from
// top-level code each one hopped to the main actor and back (two thread
// hand-offs that are the harness's, not the library's).
import Foundation
import OnceEngine

@concurrent
func measure(_ engine: Engine, _ filter: JSON, rounds: Int, only: String?) async throws -> (page: Double, count: Double) {
    let namespace = Namespace(workspace: "FY12345678", version: .live)
    func best(_ question: String, _ body: () async throws -> Void) async throws -> Double {
        guard only == nil || only == question else { return 0 }
        var times: [Double] = []
        for _ in 0..<rounds {
            let started = ContinuousClock.now
            try await body()
            let elapsed = (ContinuousClock.now - started).components
            times.append(Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
        }
        return times.min()!
    }
    let page = try await best("page") {
        _ = try await engine.query(.object(JSONObject([.init("where", filter), .init("limit", .integer(100))])), in: namespace, timeout: .seconds(600))
    }
    let count = try await best("count") {
        _ = try await engine.count(.object(JSONObject([.init("where", filter)])), in: namespace, timeout: .seconds(600))
    }
    return (page, count)
}

let arguments = CommandLine.arguments
let engine = try Engine(sqlitePath: arguments[1])
let filter = try JSONParser.parse(arguments[2])
let rounds = arguments.count > 3 ? Int(arguments[3]) ?? 5 : 5
let (page, count) = try await measure(engine, filter, rounds: rounds, only: arguments.count > 4 ? arguments[4] : nil)
print(page, count)
try await engine.close()
