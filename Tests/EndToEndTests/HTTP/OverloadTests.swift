import Foundation
import OnceEngine
import Testing

/// More load than the daemon can take: the excess is refused at once with
/// `503 overloaded` and `Retry-After`, memory stays bounded, and every `202`
/// is durable.
@Suite struct OverloadTests {
    static let path = "/v1/\(Daemon.workspace)/live/profiles/properties/batch"
    static let namespace = Namespace(workspace: Daemon.workspace, version: .live)

    struct Sent: Sendable {
        var profiles: [String]
        var reply: RawHTTP.Reply?
    }

    @Test func excessLoadIsShedWithBoundedMemory() async throws {
        let dataSet = try await TestDataSet.fresh(.sqlite)
        let daemon = try await Daemon.start(arguments: ["--max-in-flight", "8"], directory: dataSet.directory, store: dataSet.arguments)
        let clients = 64, requestsPerClient = 30
        let sent = try await withThrowingTaskGroup(of: [Sent].self) { group in
            for client in 0..<clients {
                group.addTask {
                    try await offload {
                        try (0..<requestsPerClient).map { serial in
                            // 200 new profiles with three properties each (~25 KB).
                            let profiles = (0..<200).map { "c\(client)-\(serial)-\($0)" }
                            let body = Daemon.onceBatch(profiles, #"{"a": 1, "b": "some text", "c": true}"#)
                            return Sent(profiles: profiles, reply: try RawHTTP.exchange(daemon.port, RawHTTP.post(Self.path, key: Daemon.key, body: body)))
                        }
                    }
                }
            }
            return try await group.reduce(into: [Sent]()) { $0 += $1 }
        }
        let peak = daemon.peakResidentMiB
        try await daemon.kill()

        let acknowledged = sent.filter { $0.reply?.status == 202 }
        let shed = sent.filter { $0.reply?.status == 503 }
        print("overload: \(sent.count) requests, \(acknowledged.count) acknowledged, \(shed.count) shed; peak RSS \(peak) MiB")
        #expect(acknowledged.count + shed.count == sent.count, "other replies: \(sent.compactMap { $0.reply?.status }.filter { $0 != 202 && $0 != 503 })")
        #expect(!acknowledged.isEmpty)
        #expect(!shed.isEmpty, "64 clients never overloaded a daemon taking 8 requests at a time")
        for request in shed {
            #expect(request.reply!.head.lowercased().contains("retry-after: 1"))
            #expect(request.reply!.head.lowercased().contains("connection: close"))
            #expect(request.reply!.body.contains(#""code":"overloaded""#))
        }
        #expect(peak > 0 && peak < 200, "peak RSS \(peak) MiB")

        let store = try await dataSet.open()
        for request in acknowledged {
            for profile in [request.profiles.first!, request.profiles.last!] {
                #expect(try await store.profile(profile, in: Self.namespace)?.properties.count == 3, "\(profile) is missing")
            }
        }
        for request in shed {
            #expect(try await store.profile(request.profiles.first!, in: Self.namespace) == nil, "a shed request was applied")
        }
        try await store.close()
    }
}
