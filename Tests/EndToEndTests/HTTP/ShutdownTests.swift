import Foundation
import OnceEngine
import Synchronization
import Testing

/// SIGTERM drains in-flight requests: no acknowledged write is lost.
@Suite struct ShutdownTests {
    final class Acknowledged: Sendable {
        let ids = Mutex<[String]>([])
    }

    @Test(arguments: TestDataSet.Kind.allCases)
    func noAcknowledgedWriteIsLostOnSIGTERM(store: TestDataSet.Kind) async throws {
        let dataSet = try await TestDataSet.fresh(store)
        let daemon = try await Daemon.start(directory: dataSet.directory, store: dataSet.arguments)
        let acknowledged = Acknowledged()
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for client in 0..<16 {
                    group.addTask {
                        for index in 0..<100_000 {
                            let id = "c\(client)-\(index)"
                            guard let reply = try? await daemon.post("/v1/\(Daemon.workspace)/live/profiles/properties/set-once",
                                                                     #"{"$once": {"n": \#(index)}, "distinct_id": "\#(id)"}"#) else { return }
                            if reply.status == 202 { acknowledged.ids.withLock { $0.append(id) } } else { return }
                        }
                    }
                }
            }
        }
        while acknowledged.ids.withLock({ $0.count }) < 300 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(try await daemon.terminate() == 0)
        await load.value
        let ids = acknowledged.ids.withLock { $0 }
        let reopened = try await dataSet.open()
        let namespace = Namespace(workspace: Daemon.workspace, version: .live)
        var missing = 0
        for id in ids where try await reopened.profile(id, in: namespace) == nil { missing += 1 }
        #expect(missing == 0, "\(missing) of \(ids.count) acknowledged writes are missing")
        try await reopened.close()
    }

    /// SIGHUP asks for a reload; it must never stop the daemon, with or without rules.
    @Test func sighupDoesNotStopTheDaemon() async throws {
        let daemon = try await Daemon.start()
        kill(daemon.process.pid, SIGHUP)
        try await Task.sleep(for: .milliseconds(300))
        #expect(daemon.process.isRunning)
        #expect(try await daemon.get("/health", key: nil).status == 200)
    }
}
