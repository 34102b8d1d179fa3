import Foundation
import Synchronization
import Testing
@testable import OnceEngine

@Suite struct GroupCommitTests {
    /// Jobs that arrive while a commit runs are committed together in the next one.
    @Test func submissionsDuringACommitShareTheNext() async throws {
        let gate = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        let batches = Mutex<[[Int]]>([])
        let commit = GroupCommit<Int, Int>(label: "test") { jobs in
            if batches.withLock({ $0.isEmpty }) {
                entered.signal()
                gate.wait()
            }
            batches.withLock { $0.append(jobs) }
            return jobs.map { .success($0 * 10) }
        }
        async let first = commit.submit(0)
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { entered.wait(); continuation.resume() }
        }
        // The first commit is now blocked: queue ten more behind it.
        let rest = Task {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for job in 1...10 { group.addTask { try await commit.submit(job) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        while commit.pendingCount < 10 { try await Task.sleep(for: .milliseconds(1)) }
        gate.signal()
        #expect(try await first == 0)
        #expect(try await rest.value.sorted() == (1...10).map { $0 * 10 })
        let sizes = batches.withLock { $0.map(\.count) }
        #expect(sizes == [1, 10])
    }

    @Test func closeWaitsForQueuedJobsAndRefusesNewOnes() async throws {
        let commit = GroupCommit<Int, Int>(label: "test") { jobs in
            Thread.sleep(forTimeInterval: 0.01)
            return jobs.map { .success($0) }
        }
        let pending = (0..<5).map { job in Task { try await commit.submit(job) } }
        while commit.acceptedCount < 5 { try await Task.sleep(for: .milliseconds(1)) }
        await commit.close()
        for (job, task) in pending.enumerated() { #expect(try await task.value == job) }
        await #expect(throws: StoreError.self) { try await commit.submit(9) }
    }
}
