import Foundation
import OnceEngine
import Testing

/// A rule that reads `ctx.type_of` under concurrent load: each time the
/// namespace's snapshot expires, one request reloads it and the rest wait for
/// that read, instead of all reading the registry at once.
@Suite struct TypeSnapshotLoadTests {
    @Test func expiredSnapshotsAreReloadedOnceNotByEveryRequest() async throws {
        let daemon = try await Daemon.start(arguments: ["--rules", OncedBinary.shippedRules])
        let path = "/v1/\(Daemon.workspace)/live/profiles/properties/set"
        // Register the types first, so the waves below store nothing new.
        #expect(try await daemon.post(path, #"{"$set": {"age": 30, "plan": "pro"}, "distinct_id": "first"}"#).status == 202)
        let waves = 3, concurrency = 48
        let started = ContinuousClock.now
        for wave in 0..<waves {
            try await Task.sleep(for: .milliseconds(1100))  // past the snapshot's 1 s age
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<concurrency {
                    group.addTask { try await daemon.post(path, #"{"$set": {"age": "\#(index)", "plan": "pro"}, "distinct_id": "w\#(wave)-\#(index)"}"#).status }
                }
                for try await status in group { #expect(status == 202) }
            }
        }
        let seconds = Double((ContinuousClock.now - started).components.seconds) + 1
        let metrics = try await daemon.get("/metrics", key: nil).body
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("onced_type_snapshot_loads_total ") }
        let loads = try #require(line.flatMap { Double($0.split(separator: " ").last!) })
        // At most one read per second of age (however slow the machine), plus the first request's and
        // the one its new types made due: every request of a wave reading it would be 48 a wave.
        #expect(loads >= Double(waves) && loads <= seconds + 2, "\(loads) loads in \(seconds) s for \(waves) waves of \(concurrency)")
        // ctx.type_of answered right throughout: 40-numbers.lua turned "7" into 7 for the number property.
        #expect(try await daemon.get("/v1/\(Daemon.workspace)/live/profiles/w2-7").json?["properties"]?.objectValue?["age"] == .integer(7))
    }
}
