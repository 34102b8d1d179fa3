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

    /// A drain lingers for more only after a batch of several and while few are queued:
    /// a lone submitter never waits, and a full queue commits at once. (The wait
    /// itself is a matter of time, measured by `Benchmarks/run.sh http`, not here.)
    @Test func aDrainLingersOnlyAfterConcurrentBatchesWhileFewAreQueued() {
        typealias Commit = GroupCommit<Int, Int>
        #expect(Commit.lingers(afterBatchOf: 2, pending: 1))
        #expect(Commit.lingers(afterBatchOf: 10, pending: Commit.lingerBelow - 1))
        #expect(!Commit.lingers(afterBatchOf: 1, pending: 1))
        #expect(!Commit.lingers(afterBatchOf: 0, pending: 0))
        #expect(!Commit.lingers(afterBatchOf: 10, pending: Commit.lingerBelow))
    }

    /// With a linger set, every job still commits, in order, with its own result.
    @Test func lingeringLosesNoJob() async throws {
        let commit = GroupCommit<Int, Int>(label: "test", linger: .milliseconds(5)) { jobs in jobs.map { .success($0 * 2) } }
        let results = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for job in 0..<200 { group.addTask { (job, try await commit.submit(job)) } }
            return try await group.reduce(into: [Int: Int]()) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 200 && results.allSatisfy { $0.value == $0.key * 2 })
        await commit.close()
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

    /// A full queue refuses at once instead of growing; it accepts again once drained.
    @Test func aFullQueueRefusesNewJobs() async throws {
        let gate = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        let first = Mutex(true)
        let commit = GroupCommit<Int, Int>(label: "test", maxPending: 3) { jobs in
            if first.withLock({ isFirst in defer { isFirst = false }; return isFirst }) {
                entered.signal()
                gate.wait()
            }
            return jobs.map { .success($0) }
        }
        let blocker = Task { try await commit.submit(0) }
        try await offload { entered.wait() }
        let queued = (1...3).map { job in Task { try await commit.submit(job) } }
        while commit.pendingCount < 3 { try await Task.sleep(for: .milliseconds(1)) }
        await #expect(throws: StoreError.self) { try await commit.submit(4) }
        gate.signal()
        #expect(try await blocker.value == 0)
        for (index, task) in queued.enumerated() { #expect(try await task.value == index + 1) }
        #expect(try await commit.submit(5) == 5)
    }

    /// Many jobs handed over at once: each gets its own result, in order, across
    /// however many batches they took; past the bound each refused job fails alone.
    @Test func jobsHandedOverTogetherGetTheirOwnResults() async throws {
        let batchSizes = Mutex<[Int]>([])
        let commit = GroupCommit<Int, Int>(label: "test", maxBatch: 4, maxPending: 10) { jobs in
            batchSizes.withLock { $0.append(jobs.count) }
            return jobs.map { $0 % 3 == 0 ? .failure(StoreError.corrupt("job \($0)")) : .success($0 * 10) }
        }
        let results = await commit.submit(contentsOf: Array(0..<10))
        #expect(results.count == 10)
        for (job, result) in results.enumerated() {
            if job % 3 == 0 {
                #expect(throws: StoreError.self) { try result.get() }
            } else {
                #expect(try result.get() == job * 10)
            }
        }
        #expect(batchSizes.withLock { $0.allSatisfy { $0 <= 4 } && $0.reduce(0, +) == 10 })
        #expect(await commit.submit(contentsOf: []).isEmpty)

        let overflow = await commit.submit(contentsOf: Array(100..<112))
        #expect(zip(100..., overflow.prefix(10)).allSatisfy { job, result in (try? result.get()) == (job % 3 == 0 ? nil : job * 10) })
        for refused in overflow.suffix(2) {
            #expect { try refused.get() } throws: { ($0 as? StoreError)?.description == StoreError.overloaded.description }
        }
        await commit.close()
        await #expect { try await commit.submit(contentsOf: [1])[0].get() } throws: { ($0 as? StoreError)?.description == StoreError.closed.description }
    }
}
