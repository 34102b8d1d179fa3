import Dispatch
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
        var continuation: CheckedContinuation<Output, any Error>
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
    private let commit: Commit
    /// Called after each batch with its size, for metrics.
    private let onBatch: @Sendable (Int) -> Void

    package init(label: String, maxBatch: Int = 1024, maxPending: Int = 8192,
                 onBatch: @escaping @Sendable (Int) -> Void = { _ in }, commit: @escaping Commit) {
        self.queue = DispatchQueue(label: label, qos: .userInitiated)
        self.maxBatch = maxBatch
        self.maxPending = maxPending
        self.commit = commit
        self.onBatch = onBatch
    }

    package func submit(_ job: Job) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let startDrain: Result<Bool, StoreError> = state.withLock { state in
                if state.closed { return .failure(.closed) }
                if state.pending.count >= maxPending { return .failure(.overloaded) }
                state.pending.append(Waiter(job: job, continuation: continuation))
                state.accepted += 1
                if state.draining { return .success(false) }
                state.draining = true
                return .success(true)
            }
            switch startDrain {
            case .failure(let error): continuation.resume(throwing: error)
            case .success(true): queue.async { self.drain() }
            case .success(false): break
            }
        }
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

    private func drain() {
        while true {
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
            for (waiter, result) in zip(batch, results) {
                waiter.continuation.resume(with: result)
            }
        }
    }
}
