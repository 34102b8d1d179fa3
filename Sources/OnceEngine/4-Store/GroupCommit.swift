import Dispatch
import Foundation
import Synchronization

/// Lets many concurrent submitters share one transaction and one fsync.
///
/// Submitters queue their job and suspend. One drain at a time runs on a
/// dedicated serial queue (blocking I/O never occupies the cooperative thread
/// pool): it takes everything queued, commits it as one batch, resumes each
/// submitter with its own result, and repeats while more arrived during the
/// commit. A lone submitter commits at once; under load batches grow by
/// themselves, bounded by `maxBatch`. The queue itself is bounded by
/// `maxPending`: beyond it a submission fails at once with
/// ``StoreError/overloaded``, so a load the store cannot take costs callers a
/// quick refusal (HTTP 503) instead of growing memory and latency without end.
package final class GroupCommit<Job: Sendable, Output: Sendable>: Sendable {
    /// Commits a batch; returns one result per job, in order. Runs on the drain queue only.
    package typealias Commit = @Sendable ([Job]) -> [Result<Output, any Error>]

    private struct Waiter {
        var job: Job
        /// Called once, on the drain queue, with the job's result.
        var finish: @Sendable (Result<Output, any Error>) -> Void
    }

    private struct State {
        var pending: [Waiter] = []
        var draining = false
        var closed = false
        var accepted = 0
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let queue: DispatchQueue
    private let maxBatch: Int
    private let maxPending: Int
    /// See ``init(label:maxBatch:maxPending:linger:onBatch:commit:)``, in seconds.
    private let lingerSeconds: Double
    private let commit: Commit
    /// Called after each batch with its size, for metrics.
    private let onBatch: @Sendable (Int) -> Void

    /// - Parameter linger: how long a drain that finds fewer than ``lingerBelow``
    ///   jobs waits for more before it commits, when the batch before it held
    ///   more than one (so submitters are concurrent). Each commit has a fixed
    ///   cost beyond its jobs' own work, so under load a short wait buys larger
    ///   batches; a lone submitter never waits.
    package init(label: String, maxBatch: Int = 1024, maxPending: Int = 8192, linger: Duration = .zero,
                 onBatch: @escaping @Sendable (Int) -> Void = { _ in }, commit: @escaping Commit) {
        self.queue = DispatchQueue(label: label, qos: .userInitiated)
        self.lingerSeconds = Double(linger.components.seconds) + Double(linger.components.attoseconds) * 1e-18
        self.maxBatch = maxBatch
        self.maxPending = maxPending
        self.commit = commit
        self.onBatch = onBatch
    }

    package func submit(_ job: Job) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            submit(job) { continuation.resume(with: $0) }
        }
    }

    /// Queues `job` and hands its result to `done`, on the drain queue (or at
    /// once when it is refused): for a caller that is not a task.
    package func submit(_ job: Job, then done: @escaping @Sendable (Result<Output, any Error>) -> Void) {
        enqueue([job]) { _, result in done(result) }
    }

    /// Queues every job at once and returns their results in order, each as
    /// durable as ``submit(_:)``'s: a caller holding many jobs needs no task per job.
    package func submit(contentsOf jobs: [Job]) async -> [Result<Output, any Error>] {
        guard !jobs.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            let gathered = Gathered(count: jobs.count) { continuation.resume(returning: $0) }
            enqueue(jobs, finish: gathered.finish)
        }
    }

    /// Collects the results of jobs that finish in any order, in any batches.
    private final class Gathered: Sendable {
        private let state: Mutex<(left: Int, results: [Result<Output, any Error>?])>
        private let done: @Sendable ([Result<Output, any Error>]) -> Void

        init(count: Int, done: @escaping @Sendable ([Result<Output, any Error>]) -> Void) {
            state = Mutex((count, Array(repeating: nil, count: count)))
            self.done = done
        }

        @Sendable func finish(_ index: Int, _ result: Result<Output, any Error>) {
            let all = state.withLock { state -> [Result<Output, any Error>]? in
                state.results[index] = result
                state.left -= 1
                return state.left == 0 ? state.results.map { $0! } : nil
            }
            if let all { done(all) }
        }
    }

    /// Queues `jobs`; `finish` gets each one's index and result. A job past the
    /// bound, or after close, fails at once.
    private func enqueue(_ jobs: [Job], finish: @escaping @Sendable (Int, Result<Output, any Error>) -> Void) {
        let (refused, startDrain) = state.withLock { state -> ([(Int, StoreError)], Bool) in
            var refused: [(Int, StoreError)] = []
            for (index, job) in jobs.enumerated() {
                if state.closed {
                    refused.append((index, .closed))
                } else if state.pending.count >= maxPending {
                    refused.append((index, .overloaded))
                } else {
                    state.pending.append(Waiter(job: job) { finish(index, $0) })
                    state.accepted += 1
                }
            }
            let startDrain = !state.draining && !state.pending.isEmpty
            if startDrain { state.draining = true }
            return (refused, startDrain)
        }
        for (index, error) in refused { finish(index, .failure(error)) }
        if startDrain { queue.async { self.drain() } }
    }

    /// Jobs waiting for the next commit.
    var pendingCount: Int { state.withLock { $0.pending.count } }
    /// Jobs accepted since creation.
    var acceptedCount: Int { state.withLock { $0.accepted } }

    /// Refuses new jobs and returns once every queued job has been committed.
    package func close() async {
        await withCheckedContinuation { continuation in
            let idle = state.withLock { state in
                state.closed = true
                if !state.draining { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    /// Batches smaller than this wait ``linger`` for more.
    static var lingerBelow: Int { 32 }

    /// Whether a drain lingers before taking its next batch: only after a batch
    /// of several (submitters are concurrent) and while few jobs are queued.
    static func lingers(afterBatchOf last: Int, pending: Int) -> Bool {
        last > 1 && pending < lingerBelow
    }

    private func drain() {
        var lastBatch = 0
        while true {
            if lingerSeconds > 0 && Self.lingers(afterBatchOf: lastBatch, pending: state.withLock { $0.pending.count }) {
                Thread.sleep(forTimeInterval: lingerSeconds)
            }
            let (batch, idleWaiters) = state.withLock { state -> ([Waiter], [CheckedContinuation<Void, Never>]) in
                if state.pending.isEmpty {
                    state.draining = false
                    defer { state.idleWaiters = [] }
                    return ([], state.idleWaiters)
                }
                let count = min(maxBatch, state.pending.count)
                defer { state.pending.removeFirst(count) }
                return (Array(state.pending.prefix(count)), [])
            }
            if batch.isEmpty {
                idleWaiters.forEach { $0.resume() }
                return
            }
            let results = commit(batch.map(\.job))
            precondition(results.count == batch.count, "a commit must return one result per job")
            onBatch(batch.count)
            lastBatch = batch.count
            for (waiter, result) in zip(batch, results) {
                waiter.finish(result)
            }
        }
    }
}
