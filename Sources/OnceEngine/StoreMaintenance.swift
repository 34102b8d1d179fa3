import Foundation

/// The store's upkeep in a long-running process, in short steps that never
/// hold the write lock for long: request records past their retention are
/// deleted (SPEC §5), and the rows of dropped properties are reclaimed (§9).
public struct StoreMaintenance: Sendable {
    public let store: any ProfileStore
    /// How long request records are kept; nil keeps them forever.
    public let recordRetention: Duration?
    /// Rows deleted per step: a few milliseconds of write lock each.
    public var rowsPerStep = 1000
    /// The pause between two steps, for the writes waiting behind them.
    public var pause: Duration = .milliseconds(5)
    /// How often it looks for dropped rows to reclaim.
    public var interval: Duration = .seconds(1)
    /// How often it looks for expired records (they expire by the day).
    public var retentionInterval: Duration = .seconds(60)

    public init(store: any ProfileStore, recordRetention: Duration?) {
        self.store = store
        self.recordRetention = recordRetention
    }

    /// Works until cancelled; `failed` hears a step that failed (it is tried again later).
    public func run(failed: @Sendable (any Error) -> Void = { _ in }) async {
        let clock = ContinuousClock()
        var nextExpiry = clock.now
        while !Task.isCancelled {
            do {
                if clock.now >= nextExpiry {
                    nextExpiry = clock.now + retentionInterval
                    try await deleteExpiredRecords()
                }
                try await reclaimDroppedValues()
            } catch is CancellationError {
                return
            } catch {
                failed(error)
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Does all the work there is now: every expired record, every dropped row.
    public func runOnce(now: Date = Date()) async throws {
        try await deleteExpiredRecords(now: now)
        try await reclaimDroppedValues()
    }

    private func deleteExpiredRecords(now: Date = Date()) async throws {
        guard let recordRetention else { return }
        let cutoff = now.addingTimeInterval(-Double(recordRetention.components.seconds))
        while try await store.deleteRecords(receivedBefore: cutoff, limit: rowsPerStep) == rowsPerStep {
            try await Task.sleep(for: pause)
        }
    }

    private func reclaimDroppedValues() async throws {
        while try await store.reclaimDroppedValues(limit: rowsPerStep) {
            try await Task.sleep(for: pause)
        }
    }
}
