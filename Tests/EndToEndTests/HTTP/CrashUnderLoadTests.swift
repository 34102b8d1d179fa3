import Foundation
import OnceEngine
import Synchronization
import Testing

/// SIGKILL in the middle of a load: after a restart on the same data set,
/// every acknowledged request is fully there, and no request is half-applied.
@Suite struct CrashUnderLoadTests {
    static let base = "/v1/\(Daemon.workspace)/live"

    /// What the clients sent, and which of it got a 202.
    final class Ledger: Sendable {
        struct Sent: Sendable {
            var profiles: [String]
            var requestID: String?
        }
        let sent = Mutex<[Sent]>([])
        var acknowledged: Int { sent.withLock { $0.count { $0.requestID != nil } } }
    }

    @Test(arguments: TestDataSet.Kind.allCases)
    func acknowledgedRequestsSurviveSIGKILLUnderLoad(store: TestDataSet.Kind) async throws {
        let dataSet = try await TestDataSet.fresh(store)
        let daemon = try await Daemon.start(directory: dataSet.directory, store: dataSet.arguments)
        let ledger = Ledger()
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for client in 0..<16 {
                    group.addTask {
                        for serial in 0..<100_000 {
                            // Two profiles with three properties each: a partial commit would show as one
                            // profile without the other, or a profile with some of its properties.
                            let profiles = ["c\(client)-\(serial)-x", "c\(client)-\(serial)-y"]
                            let slot = ledger.sent.withLock { $0.append(.init(profiles: profiles)); return $0.count - 1 }
                            guard let reply = try? await daemon.post("\(Self.base)/profiles/properties/batch", Daemon.onceBatch(profiles, #"{"a": \#(serial), "b": "b\#(serial)", "c": true}"#)),
                                  reply.status == 202, let id = reply.json?["request_id"]?.stringValue else { return }
                            ledger.sent.withLock { $0[slot].requestID = id }
                        }
                    }
                }
            }
        }
        while ledger.acknowledged < 400 { try await Task.sleep(for: .milliseconds(5)) }
        try await daemon.kill()
        await load.value

        let restarted = try await Daemon.start(directory: dataSet.directory, store: dataSet.arguments)
        let sent = ledger.sent.withLock { $0 }
        var (acknowledgedPresent, unacknowledgedPresent, unacknowledgedAbsent) = (0, 0, 0)
        for request in sent {
            var complete = 0
            for profile in request.profiles {
                let reply = try await restarted.get("\(Self.base)/profiles/\(profile)")
                guard reply.status == 200 else {
                    #expect(reply.status == 404, "\(reply.status) \(reply.body)")
                    continue
                }
                let properties = reply.json?["properties"]?.objectValue
                #expect(properties?.keys.sorted() == ["a", "b", "c"], "\(profile) is half-applied: \(reply.body)")
                complete += 1
            }
            #expect(complete == 0 || complete == request.profiles.count, "\(request.profiles) is half-applied")
            if let id = request.requestID {
                #expect(complete == request.profiles.count, "acknowledged \(id) is missing")
                #expect(try await restarted.get("\(Self.base)/requests/\(id)").status == 200, "the record of \(id) is missing")
                acknowledgedPresent += 1
            } else if complete > 0 {
                unacknowledgedPresent += 1  // committed, the 202 lost with the process: allowed
            } else {
                unacknowledgedAbsent += 1
            }
        }
        print("\(store): \(acknowledgedPresent) acknowledged and present; of \(sent.count - acknowledgedPresent) unacknowledged, "
              + "\(unacknowledgedPresent) committed and \(unacknowledgedAbsent) absent")
        #expect(acknowledgedPresent >= 400)
    }
}
