import Foundation
import Logging
import OnceEngine

/// Commits one group-commit batch on the writer's session (drain queue only).
struct BatchCommit {
    let session: PostgresSession
    let cache: TypeCache
    let maxAttempts: Int
    let logger: Logger

    /// One result per request, in order. A lifecycle action commits alone,
    /// between the requests before and after it: what a batch reads up front
    /// (types, profiles) would be stale once it ran.
    func run(_ batch: [PreparedRequest]) -> [Result<RequestRecord, any Error>] {
        guard let action = batch.firstIndex(where: { $0.lifecycle != nil }) else { return runTogether(batch) }
        let before = action > 0 ? runTogether(Array(batch[..<action])) : []
        return before + runTogether([batch[action]]) + (action + 1 < batch.count ? run(Array(batch[(action + 1)...])) : [])
    }

    private func runTogether(_ batch: [PreparedRequest]) -> [Result<RequestRecord, any Error>] {
        do {
            return try attempt(batch).map { .success($0) }
        } catch let failure as PostgresFailure where failure.kind != .statement {
            return batch.map { _ in .failure(Self.visible(failure)) }
        } catch where batch.count > 1 {
            // One request failed and aborted the shared transaction: commit each alone, so it fails alone.
            return batch.map { request in
                Result { try attempt([request])[0] }.mapError(Self.visible)
            }
        } catch {
            return [.failure(Self.visible(error))]
        }
    }

    /// Runs the transaction again after a serialization failure or deadlock, with a jittered pause.
    private func attempt(_ batch: [PreparedRequest]) throws -> [RequestRecord] {
        var attempts = 0
        while true {
            attempts += 1
            do {
                return try transaction(batch)
            } catch let failure as PostgresFailure where failure.kind == .retry && attempts < maxAttempts {
                logger.debug("retrying a batch of \(batch.count): \(failure)")
                usleep(UInt32.random(in: 1_000...(5_000 * UInt32(attempts))))
            }
        }
    }

    private func transaction(_ batch: [PreparedRequest]) throws -> [RequestRecord] {
        try session.run("BEGIN")
        do {
            cache.check(drops: try session.run(PostgresTransaction.selectDrops).rows.first?.decode(Int64.self) ?? 0)
            let start = try BatchStart(batch, cache: cache, in: session)
            var records: [RequestRecord] = []
            var learned: [PropertyName: Registration] = [:]
            for request in batch {
                var transaction = PostgresTransaction(session: session, cache: cache, start: start, request: request)
                records.append(try RequestApplier.apply(request, in: &transaction))
                learned.merge(transaction.types.learned) { old, _ in old }
            }
            try PostgresTransaction.saveRecords(zip(batch, records).map { ($0.namespace, $1) }, in: session)
            try session.run("COMMIT")
            cache.remember(learned)
            return records
        } catch {
            session.rollback()
            throw error
        }
    }

    /// What the engine's callers see: an outage is ``StoreError/unavailable``.
    private static func visible(_ error: any Error) -> any Error {
        guard let failure = error as? PostgresFailure else { return error }
        return failure.kind == .statement ? failure : StoreError.unavailable(failure.description)
    }
}
