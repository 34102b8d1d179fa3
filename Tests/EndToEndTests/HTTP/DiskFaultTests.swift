import Foundation
import OnceEngine
import Testing

/// A write that fails on disk stops acknowledgements: from then on every write
/// is a 503 and /health says degraded, until a restart; nothing acknowledged
/// before the fault is lost. The fault is real: a size-limited tmpfs fills up.
@Suite(.serialized) struct DiskFaultTests {
    static let path = "/v1/\(Daemon.workspace)/live/profiles/properties/set"

    /// Runs a system command to completion; its exit status.
    static func system(_ command: String, _ arguments: [String]) throws -> Int32 {
        try ChildProcess(command, arguments, stdin: .pipe, stdout: .pipe, stderr: .pipe).run(timeout: .seconds(60)).status
    }

    static func body(_ id: String) -> String {
        let filler = String(repeating: "x", count: 240)
        return #"{"$set": {"a": "\#(filler)", "b": "\#(filler)", "c": "\#(filler)"}, "distinct_id": "\#(id)-\#(filler)"}"#
    }

    @Test func aFullDiskStopsAcknowledgementsUntilRestartAndLosesNothing() async throws {
        let directory = TemporaryDirectory()
        let disk = directory.path("disk")
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        guard try Self.system("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", disk]) == 0 else {
            throw TestSetupError("cannot mount a tmpfs at \(disk): this test needs root (CI runs as root)")
        }
        defer { _ = try? Self.system("/bin/umount", ["-l", disk]) }
        let store = ["--db", disk + "/onced.db"]
        let daemon = try await Daemon.start(directory: directory, store: store)

        var acknowledged: [String] = []
        for index in 0..<20 {
            #expect(try await daemon.post(Self.path, Self.body("before\(index)")).status == 202)
            acknowledged.append("before\(index)")
        }
        // Fill what is left of the disk; dd stops at ENOSPC.
        _ = try Self.system("/bin/dd", ["if=/dev/zero", "of=\(disk)/filler", "bs=16k"])
        var refused: Daemon.Reply?
        for index in 0..<3000 {
            let reply = try await daemon.post(Self.path, Self.body("during\(index)"))
            if reply.status == 202 {
                acknowledged.append("during\(index)")
            } else {
                refused = reply
                break
            }
        }
        let failure = try #require(refused, "3,000 writes went through on a full disk")
        #expect(failure.status == 503 && failure.errorCode == "unavailable", "\(failure.body)")
        #expect(failure.headers["Retry-After"] == "1")
        let health = try await daemon.get("/health", key: nil)
        #expect(health.status == 503)
        #expect(health.json?["status"] == .string("degraded"))
        #expect(health.json?["reason"]?.stringValue?.contains("full") == true, "\(health.body)")

        // Space again is not enough: the file is in doubt until a restart.
        try FileManager.default.removeItem(atPath: disk + "/filler")
        #expect(try await daemon.post(Self.path, Self.body("after")).status == 503)
        #expect(try await daemon.get("/v1/\(Daemon.workspace)/live/profiles/\(acknowledged[0])-\(String(repeating: "x", count: 240))").status == 200,
                "reads go on")

        try await daemon.kill()
        let restarted = try await Daemon.start(directory: directory, store: store)
        #expect(try await restarted.get("/health", key: nil).json?["status"] == .string("ok"))
        for id in acknowledged {
            let profile = try await restarted.get("/v1/\(Daemon.workspace)/live/profiles/\(id)-\(String(repeating: "x", count: 240))")
            #expect(profile.status == 200, "acknowledged \(id) was lost")
        }
        #expect(try await restarted.post(Self.path, Self.body("restarted")).status == 202)
        try await restarted.kill()
    }
}
