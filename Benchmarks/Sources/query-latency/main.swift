// Cohort query latency through the library, no HTTP: the best of 5 runs of
// a first page (100 profiles) and of a count, for a filter, on a SQLite file.
//
//   query-latency DB FILTER_JSON [ROUNDS]    prints "PAGE_SECONDS COUNT_SECONDS"
//
// ROUNDS (5 unless given) more makes a steady load to profile.
import Foundation
import OnceEngine

let arguments = CommandLine.arguments
let engine = try Engine(sqlitePath: arguments[1])
let namespace = Namespace(workspace: "FY12345678", version: .live)
let filter = try JSONParser.parse(arguments[2])
let rounds = arguments.count > 3 ? Int(arguments[3]) ?? 5 : 5

func best(_ body: () async throws -> Void) async throws -> Double {
    var times: [Double] = []
    for _ in 0..<rounds {
        let started = ContinuousClock.now
        try await body()
        let elapsed = (ContinuousClock.now - started).components
        times.append(Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
    }
    return times.min()!
}

let page = try await best {
    _ = try await engine.query(.object(JSONObject([.init("where", filter), .init("limit", .integer(100))])), in: namespace, timeout: .seconds(600))
}
let count = try await best {
    _ = try await engine.count(.object(JSONObject([.init("where", filter)])), in: namespace, timeout: .seconds(600))
}
print(page, count)
try await engine.close()
