import Foundation
import Testing

/// The harness every end-to-end test stands on: a child inherits nothing but its
/// three standard descriptors, and no wait on it can hang the run.
@Suite struct ChildProcessTests {
    @Test func aChildThatOutlivesItsDeadlineIsKilledAndTheWaitFails() throws {
        let child = try ChildProcess("/bin/sleep", ["60"])
        #expect(throws: TestSetupError.self) { try child.waitForExit(timeout: .milliseconds(200)) }
        #expect(child.exitStatus == 128 + SIGKILL)
    }

    /// A descriptor the test process opened without close-on-exec (as libraries
    /// do) does not reach the child: had it reached a long-lived one, whoever
    /// waited for that pipe's end would wait as long as the child lives.
    @Test func aChildKeepsOnlyItsStandardDescriptors() throws {
        var leaky: [Int32] = [0, 0]
        #expect(pipe(&leaky) == 0)
        defer { leaky.forEach { close($0) } }
        let child = try ChildProcess("/bin/ls", ["/proc/self/fd"], stdout: .pipe)
        let finished = try child.run(timeout: .seconds(30))
        let open = Set(String(decoding: finished.stdout, as: UTF8.self).split(separator: "\n").map(String.init))
        #expect(finished.status == 0)
        #expect(open == ["0", "1", "2", "3"])  // 3: ls's own handle on the directory it lists
    }

    @Test func lineInputGivesUpAtItsDeadline() throws {
        let child = try ChildProcess("/bin/sleep", ["60"], stdout: .pipe)
        let lines = LineInput(child.output!)
        #expect(throws: TestSetupError.self) { try lines.next(within: .milliseconds(200)) }
    }
}
