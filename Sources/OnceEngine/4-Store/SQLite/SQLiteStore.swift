import Foundation
import GRDB

/// The default store: one SQLite file in WAL mode.
///
/// Writes go through a ``GroupCommit``: concurrent requests share one
/// `BEGIN IMMEDIATE` transaction and one fsync; a failing request rolls back
/// alone (see ``commit(_:pool:cache:)``); a ``WALCheckpointer`` copies the WAL
/// into the file beside them. Reads use the pool's concurrent readers.
/// Several processes may open the same file: the write lock and busy timeout
/// serialize their transactions, and batches that still meet a busy database
/// are retried whole. A write that fails on I/O (a full disk, a failed
/// fsync) stops every later write until restart (``DiskFault``).
public final class SQLiteStore: ProfileStore {
    /// When a commit counts as durable.
    public enum Durability: String, Sendable, CaseIterable {
        /// `synchronous=FULL`: every commit is fsynced; survives power loss. The default.
        case full
        /// `synchronous=NORMAL`: survives a process crash, but a power loss may
        /// lose the last commits. Faster on slow disks.
        case normal
    }

    /// How the store opens its file.
    public struct Options: Sendable {
        /// Default `.full`.
        public var durability: Durability = .full
        /// How long a writer waits for another process's write lock.
        public var busyTimeout: TimeInterval = 5
        /// Most requests committed in one transaction.
        public var maxBatch = 1024
        /// The defaults: durable (`synchronous=FULL`), 5 s busy timeout, batches of up to 1,024.
        public init() {}
    }

    /// The writer's own automatic checkpoint, a backstop behind the
    /// ``WALCheckpointer``: 4,000 pages (16 MiB of WAL) instead of SQLite's 1,000.
    static let writerAutoCheckpointPages = 4000

    let pool: DatabasePool
    private let cache = TypeCache()
    private let diskFault = DiskFault()
    private let checkpointer: WALCheckpointer
    private let committer: GroupCommit<PreparedRequest, RequestRecord>

    /// Opens (creating if needed) the database at `path` and migrates its schema.
    public init(path: String, options: Options = Options()) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(options.busyTimeout)
        let synchronous = options.durability == .full ? "FULL" : "NORMAL"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.writerAutoCheckpointPages)")
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try SQLiteSchema.migrator.migrate(pool)
        self.pool = pool
        let diskFault = self.diskFault
        let checkpointer = try WALCheckpointer(path: path, fault: diskFault)
        self.checkpointer = checkpointer
        let cache = self.cache
        committer = GroupCommit(label: "onced.sqlite.commit", maxBatch: options.maxBatch,
                                onBatch: { size in
                                    EngineMetrics.commitBatchSize.record(size)
                                    checkpointer.commitDidLand()
                                }) { batch in
            if let reason = diskFault.current { return batch.map { _ in .failure(StoreError.degraded(reason)) } }
            let results = SQLiteStore.commit(batch, pool: pool, cache: cache)
            // A fault found now (by this batch or by a checkpoint meanwhile) puts this batch in doubt too.
            if let reason = diskFault.record(failureIn: results) { return batch.map { _ in .failure(StoreError.degraded(reason)) } }
            return results
        }
    }

    /// Why writes are refused since a disk failure, or nil.
    public var fault: String? { diskFault.current }

    /// Queues the request for the next group commit; returns once it is durable.
    public func apply(_ request: PreparedRequest) async throws -> RequestRecord {
        if let reason = diskFault.current { throw StoreError.degraded(reason) }
        return try await committer.submit(request)
    }

    /// Queues every request at once (see ``GroupCommit/submit(contentsOf:)``).
    public func apply(contentsOf requests: [PreparedRequest]) async -> [Result<RequestRecord, any Error>] {
        if let reason = diskFault.current { return requests.map { _ in .failure(StoreError.degraded(reason)) } }
        return await committer.submit(contentsOf: requests)
    }

    /// One transaction for the whole batch. Requests first run bare: a savepoint
    /// costs two statements per request, and requests seldom fail. If one does,
    /// the batch is rolled back and run again with a savepoint per request, so
    /// the failing one rolls back alone.
    private static func commit(_ batch: [PreparedRequest], pool: DatabasePool, cache: TypeCache) -> [Result<RequestRecord, any Error>] {
        var busyAttempts = 0
        var isolating = false
        while true {
            var results: [Result<RequestRecord, any Error>] = []
            var learned: [TypeCache.Key: PropertyType] = [:]
            do {
                try pool.writeWithoutTransaction { db in
                    try db.inTransaction(.immediate) {
                        for request in batch {
                            var transaction = SQLiteTransaction(db: db, cache: cache, request: request)
                            do {
                                let record = isolating
                                    ? try inSavepoint(db) { try RequestApplier.apply(request, in: &transaction) }
                                    : try RequestApplier.apply(request, in: &transaction)
                                results.append(.success(record))
                                learned.merge(transaction.types.learned) { old, _ in old }
                            } catch let error as DatabaseError where error.isBusy || DiskFault.isFault(error) {
                                throw error
                            } catch {
                                guard isolating else { throw RequestFailed() }
                                results.append(.failure(error))
                            }
                        }
                        return .commit
                    }
                }
                cache.remember(learned)
                return results
            } catch is RequestFailed {
                isolating = true
            } catch let error as DatabaseError where error.isBusy && busyAttempts < 2 {
                busyAttempts += 1
            } catch {
                return batch.map { _ in .failure(error) }
            }
        }
    }

    /// A request of a batch run without savepoints failed: the batch runs again with them.
    private struct RequestFailed: Error {}

    /// Runs `body` in a savepoint: its effects stay only if it returns.
    /// (Cached statements: GRDB's `inSavepoint` parses its SQL anew each time.)
    private static func inSavepoint<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        try SQLiteBinder.run(db.cachedStatement(sql: "SAVEPOINT request"), in: db) { _ in }
        do {
            let result = try body()
            try SQLiteBinder.run(db.cachedStatement(sql: "RELEASE request"), in: db) { _ in }
            return result
        } catch {
            try SQLiteBinder.run(db.cachedStatement(sql: "ROLLBACK TO request"), in: db) { _ in }
            try SQLiteBinder.run(db.cachedStatement(sql: "RELEASE request"), in: db) { _ in }
            throw error
        }
    }

    /// Reads from a pool reader, concurrently with writes.
    public func profile(_ distinctID: String, in namespace: Namespace) async throws -> Profile? {
        let key: StatementArguments = [namespace.workspace, namespace.version.rawValue, distinctID]
        return try await pool.read { db -> Profile? in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT created_at, updated_at FROM profiles WHERE workspace = ? AND version = ? AND distinct_id = ?
                """, arguments: key) else { return nil }
            let rows = try Row.fetchAll(db, sql: """
                SELECT name, type, text, number, instant, list FROM properties
                WHERE workspace = ? AND version = ? AND distinct_id = ? ORDER BY name
                """, arguments: key)
            let properties = try rows.map { (name: $0[0] as String, value: try StoredValue.value(from: $0, at: 1)) }
            return Profile(distinctID: distinctID, properties: properties,
                           createdAt: Date(epochMilliseconds: row[0]), updatedAt: Date(epochMilliseconds: row[1]))
        }
    }

    /// The stored record of a request.
    public func record(_ requestID: UUID, in namespace: Namespace) async throws -> RequestRecord? {
        let stored = try await pool.read { db -> (receivedAt: Int64, results: String)? in
            try Row.fetchOne(db, sql: """
                SELECT received_at, results FROM requests WHERE workspace = ? AND version = ? AND id = ?
                """, arguments: [namespace.workspace, namespace.version.rawValue, requestID.lowercaseString])
                .map { ($0[0], $0[1]) }
        }
        guard let stored else { return nil }
        return try RequestRecord(id: requestID, receivedAtMilliseconds: stored.receivedAt, storedResults: stored.results)
    }

    /// Every registered type of the namespace.
    public func registeredTypes(in namespace: Namespace) async throws -> [String: PropertyType] {
        let rows = try await pool.read { db -> [(name: String, type: String)] in
            try Row.fetchAll(db, sql: "SELECT name, type FROM property_types WHERE workspace = ? AND version = ?",
                             arguments: [namespace.workspace, namespace.version.rawValue]).map { ($0[0], $0[1]) }
        }
        var types: [String: PropertyType] = [:]
        for row in rows { types[row.name] = try PropertyType(stored: row.type) }
        return types
    }

    /// Commits what is queued, then closes the file.
    public func close() async throws {
        await committer.close()
        try checkpointer.close()
        try pool.close()
    }
}

extension DatabaseError {
    var isBusy: Bool { resultCode == .SQLITE_BUSY || resultCode == .SQLITE_LOCKED }
}
