import Foundation
import OnceEngine
import OncePostgres
import Synchronization
import Testing

/// Several daemons on one PostgreSQL, and PostgreSQL going away or going silent.
@Suite(.serialized) struct PostgresScaleOutTests {
    static let base = "/v1/\(Daemon.workspace)/live"

    /// 32 clients set-once the same properties of the same 100 profiles through
    /// two daemons: exactly one `set` per property, and both daemons read the
    /// winner's value.
    @Test func twoDaemonsOnePostgres() async throws {
        let dataSet = try await TestDataSet.fresh(.postgres)
        try await dataSet.open().close()  // the schema, before the race
        let daemons = [try await Daemon.start(store: dataSet.arguments), try await Daemon.start(store: dataSet.arguments)]
        let profiles = (0..<100).map { "p\($0)" }

        // Each client sends 10 batches of 10 profiles, in its own order.
        let records = try await withThrowingTaskGroup(of: [(client: Int, record: JSONObject)].self) { group in
            for client in 0..<32 {
                group.addTask {
                    let daemon = daemons[client % 2]
                    var records: [JSONObject] = []
                    for chunk in stride(from: 0, to: 100, by: 10).map({ Array(profiles.shuffled()[$0..<$0 + 10]) }) {
                        let elements = chunk.map { #"{"distinct_id": "\#($0)", "action": {"$once": {"a": \#(client), "b": \#(client)}}}"# }
                        let reply = try await daemon.post("\(Self.base)/profiles/properties/batch",
                                                          #"{"batch": [\#(elements.joined(separator: ","))]}"#)
                        try #require(reply.status == 202, "\(reply.status) \(reply.body)")
                        let id = try #require(reply.json?["request_id"]?.stringValue)
                        records.append(try #require(try await daemon.get("\(Self.base)/requests/\(id)").json))
                    }
                    return records.map { (client: client, record: $0) }
                }
            }
            return try await group.reduce(into: [(client: Int, record: JSONObject)]()) { $0 += $1 }
        }
        #expect(records.count == 32 * 10)

        var winners: [String: Int] = [:]  // "profile/property" → client
        for (client, record) in records {
            guard case .array(let results)? = record["results"] else { Issue.record("no results: \(record)"); continue }
            for result in results.compactMap({ (json: JSON) in json.objectValue }) {
                let id = result["distinct_id"]?.stringValue ?? "?"
                for member in result["properties"]?.objectValue?.members ?? [] {
                    let outcome = member.value.objectValue?["outcome"]?.stringValue
                    #expect(outcome == "set" || outcome == "unchanged", "\(id)/\(member.key): \(outcome ?? "none")")
                    guard outcome == "set" else { continue }
                    #expect(winners["\(id)/\(member.key)"] == nil, "\(id)/\(member.key) was set twice")
                    winners["\(id)/\(member.key)"] = client
                }
            }
        }
        #expect(winners.count == 100 * 2)
        for profile in profiles {
            let seen = try await daemons.asyncMap { try await $0.get("\(Self.base)/profiles/\(profile)").json?["properties"] }
            #expect(seen[0] == seen[1], "\(profile): the daemons disagree")
            for name in ["a", "b"] {
                #expect(seen[0]?.objectValue?[name] == winners["\(profile)/\(name)"].map { .integer(Int64($0)) })
            }
        }
    }

    final class Tally: Sendable {
        struct State {
            var acknowledged: [String] = []
            var acknowledgedAfterRestart = 0
            var statuses: [Int: Int] = [:]
            var restarted = false
            /// Clients stop between requests (cancelling would cut requests in flight).
            var stopped = false
        }
        let state = Mutex(State())
    }

    /// PostgreSQL crashes and restarts in the middle of a load: requests
    /// meanwhile fail cleanly (503 with Retry-After), every acknowledged write
    /// is present afterwards, and the daemon serves again without being restarted.
    @Test func postgresRestartUnderLoad() async throws {
        let cluster = try PostgresCluster()
        let url = try await TestPostgres.newDatabase(on: PostgresURL(cluster.url))
        let daemon = try await Daemon.start(store: ["--postgres", url])
        let tally = Tally()
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for client in 0..<16 {
                    group.addTask {
                        var index = 0
                        while !tally.state.withLock({ $0.stopped }) {
                            index += 1
                            let id = "c\(client)-\(index)"
                            let status = (try? await daemon.post("\(Self.base)/profiles/properties/set-once",
                                                                 #"{"$once": {"n": \#(index), "s": "x"}, "distinct_id": "\#(id)"}"#))?.status ?? -1
                            tally.state.withLock { state in
                                state.statuses[status, default: 0] += 1
                                if status == 202 {
                                    state.acknowledged.append(id)
                                    if state.restarted { state.acknowledgedAfterRestart += 1 }
                                }
                            }
                            if status != 202 { try? await Task.sleep(for: .milliseconds(20)) }
                        }
                    }
                }
            }
        }
        func waitFor(_ condition: @escaping (Tally.State) -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(60)
            while !tally.state.withLock({ condition($0) }) {
                try #require(ContinuousClock.now < deadline, """
                    timed out: \(tally.state.withLock { $0.statuses })
                    onced's log:
                    \(daemon.logTail())
                    PostgreSQL's log:
                    \(cluster.logTail())
                    """)
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        try await waitFor { $0.acknowledged.count >= 200 }
        try cluster.restart()
        tally.state.withLock { $0.restarted = true }
        try await waitFor { $0.acknowledgedAfterRestart >= 200 }
        tally.state.withLock { $0.stopped = true }
        await load.value

        let state = tally.state.withLock { $0 }
        let refused = state.statuses.filter { $0.key != 202 }
        #expect(Set(refused.keys).isSubset(of: [503]), "non-202 statuses: \(state.statuses)")
        #expect(refused[503, default: 0] > 0, "no request met the outage: \(state.statuses)")
        let store = try await PostgresStore.open(PostgresURL(url))
        let namespace = Namespace(workspace: Daemon.workspace, version: .live)
        var missing: [String] = []
        for id in state.acknowledged where try await store.profile(id, in: namespace)?["s"] != .string("x") {
            missing.append(id)
        }
        #expect(missing.isEmpty, "\(missing.count) of \(state.acknowledged.count) acknowledged writes are missing")
        try await store.close()
        #expect(daemon.process.isRunning)
    }

    /// PostgreSQL stops answering (its processes stopped: every connection stays
    /// open and nothing comes back, which postgres-nio alone would wait out
    /// forever): a write fails with 503 and Retry-After once the statement
    /// deadline passes, and once the server answers again the daemon writes
    /// again without being restarted.
    @Test func postgresThatStopsAnsweringFailsWritesInTime() async throws {
        let cluster = try PostgresCluster()
        let url = try await TestPostgres.newDatabase(on: PostgresURL(cluster.url))
        let daemon = try await Daemon.start(store: ["--postgres", url])
        let path = "\(Self.base)/profiles/properties/set-once"
        func write(_ id: String) async throws -> Daemon.Reply {
            try await daemon.post(path, #"{"$once": {"n": 1}, "distinct_id": "\#(id)"}"#)
        }
        #expect(try await write("before").status == 202)

        try cluster.signal(SIGSTOP)
        let during: Daemon.Reply
        do {
            during = try await write("during")  // URLSession gives up after 60 s: a hang fails here
        } catch {
            try cluster.signal(SIGCONT)
            throw error
        }
        try cluster.signal(SIGCONT)
        #expect(during.status == 503, "\(during.status) \(during.body)\n\(daemon.logTail())")
        #expect(during.headers.contains { $0.key.lowercased() == "retry-after" }, "\(during.headers)")

        // Back after the writer's reconnect backoff (a few seconds at most).
        let deadline = ContinuousClock.now + .seconds(60)
        var status = try await write("after").status
        while status != 202 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            status = try await write("after").status
        }
        #expect(status == 202, "onced's log:\n\(daemon.logTail())")
        #expect(daemon.process.isRunning)
    }
}

extension Array where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
