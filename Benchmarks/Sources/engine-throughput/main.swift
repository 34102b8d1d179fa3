// Engine set-once throughput on SQLite: N concurrent submitters, each request
// 5 properties on a new profile, every request durable before it returns.
//
//   swift run -c release engine-throughput [submitters] [requests] [full|normal]
import Foundation
import OnceEngine

let arguments = CommandLine.arguments
let submitters = arguments.count > 1 ? Int(arguments[1])! : 64
let requests = arguments.count > 2 ? Int(arguments[2])! : 20_000
let durability = arguments.count > 3 ? SQLiteStore.Durability(rawValue: arguments[3])! : .full

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("onced-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: directory) }

var options = SQLiteStore.Options()
options.durability = durability
let engine = try Engine(sqlitePath: directory.appendingPathComponent("bench.db").path, options: options)
let namespace = Namespace(workspace: "FY12345678", version: .live)

func request(_ index: Int) -> WriteRequest {
    let properties = JSONObject([
        .init("plan", .string("pro")),
        .init("signup_date", .string("2020-10-01T18:30:00.000Z")),
        .init("ltv", .integer(Int64(index))),
        .init("vip", .bool(index % 2 == 0)),
        .init("cohort", .string("cohort_2024_q\(index % 4 + 1)")),
    ])
    return WriteRequest(namespace: namespace, elements: [
        Element(distinctID: "user-\(index)", ops: [OpInput(op: .setOnce, properties: properties)]),
    ])
}

let started = Date()
try await withThrowingTaskGroup(of: Void.self) { group in
    for submitter in 0..<submitters {
        group.addTask {
            for index in stride(from: submitter, to: requests, by: submitters) {
                let record = try await engine.submit(request(index))
                precondition(record.propertyResults.allSatisfy { $0.outcome == .set })
            }
        }
    }
    try await group.waitForAll()
}
let seconds = Date().timeIntervalSince(started)
try await engine.close()
let rate = Double(requests * 5) / seconds
print(String(format: "engine set-once, %@, %d submitters: %d requests in %.2f s = %.0f requests/s, %.0f properties/s",
             durability.rawValue, submitters, requests, seconds, Double(requests) / seconds, rate))
