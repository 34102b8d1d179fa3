import Foundation
import GRDB
import GRDBSQLite

/// The default store: one SQLite file in WAL mode.
///
/// Writes go through a ``GroupCommit``: concurrent requests share one
/// `BEGIN IMMEDIATE` transaction and one fsync; a failing request rolls back
/// alone (see ``commit(_:pool:ids:)``); a ``WALCheckpointer`` copies the WAL
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
        /// How long a commit waits for more requests when only a few are queued
        /// and the last batch held several. Measured under `wrk` (64 connections,
        /// `Benchmarks/run.sh http`): 500 µs cut the commit thread's CPU per request
        /// by about a fifth (batches grow from ~10 requests); a lone writer never waits.
        public var commitLinger: Duration = .microseconds(500)
        /// SQLite's page cache per connection, in MiB. SQLite's own default
        /// (2 MiB) made the writer read most pages it touched back from the kernel.
        public var pageCacheMiB = 64
        /// How long a cohort query runs on its caller's thread before it starts
        /// again on the query thread (SPEC §8). The hand-off to that thread and
        /// back was half of a one-profile query's time (~0.03 of its 0.06–0.08 ms);
        /// this much, wasted by a long query that starts again, is a few percent of it.
        public var queryTimeOnCaller: Duration = .microseconds(250)
        /// SQLite VM steps a cohort page walks in distinct_id order, testing
        /// each profile, before it sizes its range conditions to choose another
        /// plan (SPEC §8): about what sizing one costs in time (~0.6–0.8 ms;
        /// a one-condition walk takes ~16 steps a profile, ~4,000 profiles).
        /// A condition matching more than ~3 % fills its page within them,
        /// unsized, and one matching fewer pays at most about twice its best plan.
        public var pageWalkSteps = 65_536
        /// Told each step of a migration of the file's schema (a line for a person to read).
        public var migrationProgress: (@Sendable (String) -> Void)?
        /// The defaults: durable (`synchronous=FULL`), 5 s busy timeout, batches of up to 1,024, a 64 MiB page cache.
        public init() {}
    }

    /// The writer's own automatic checkpoint, a backstop behind the
    /// ``WALCheckpointer``: 4,000 pages (16 MiB of WAL) instead of SQLite's 1,000.
    static let writerAutoCheckpointPages = 4000

    let pool: DatabasePool
    /// Where cohort queries run (SPEC §8).
    let queries: QueryThread
    /// See ``Options/queryTimeOnCaller``.
    let queryTimeOnCaller: Duration
    /// See ``Options/pageWalkSteps``.
    let pageWalkSteps: Int
    /// The namespaces' names as queries last read them.
    let queryNames = QueryNames()
    private let ids = SQLiteIDs()
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
            try db.execute(sql: "PRAGMA cache_size = -\(options.pageCacheMiB * 1024)")
            // `RETURNING` collects its rows in a temporary table: on disk by default, which cost more system time than the writes.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            // Deleted and overwritten content is zeroed, so an erased profile leaves no bytes in the file (SPEC §9).
            try db.execute(sql: "PRAGMA secure_delete = ON")
            // A list element's instant, for a query's `contains` of a date (SPEC §8).
            db.add(function: DatabaseFunction("onced_instant", argumentCount: 1, pure: true) { values in
                String.fromDatabaseValue(values[0]).flatMap(ISODate.init(parsing:))?.instant
            })
            // One profile's value, for a query that tests it (``PackedValues``).
            if let connection = db.sqliteConnection { PackedValues.addValueFunction(to: connection) }
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try SQLiteSchema.migrator(progress: options.migrationProgress).migrate(pool)
        self.pool = pool
        queries = try QueryThread(path: path, configuration: configuration)
        queryTimeOnCaller = options.queryTimeOnCaller
        pageWalkSteps = options.pageWalkSteps
        let diskFault = self.diskFault
        let checkpointer = try WALCheckpointer(path: path, fault: diskFault)
        self.checkpointer = checkpointer
        let ids = self.ids
        committer = GroupCommit(label: "onced.sqlite.commit", maxBatch: options.maxBatch, linger: options.commitLinger,
                                onBatch: { size in
                                    EngineMetrics.commitBatchSize.record(size)
                                    checkpointer.commitDidLand()
                                }) { batch in
            if let reason = diskFault.current { return batch.map { _ in .failure(StoreError.degraded(reason)) } }
            let results = SQLiteStore.commit(batch, pool: pool, ids: ids)
            // A fault found now (by this batch or by a checkpoint meanwhile) puts this batch in doubt too.
            if let reason = diskFault.record(failureIn: results) { return batch.map { _ in .failure(StoreError.degraded(reason)) } }
            return results
        }
    }

    /// Why writes are refused since a disk failure, or nil.
    public var fault: String? { diskFault.current }

    /// Queues the request for the next group commit; returns once it is durable.
    /// An erasure returns once its bytes have left the WAL too (SPEC §9): the
    /// truncating checkpoint runs beside the writer, so only the erasure waits for it.
    public func apply(_ request: PreparedRequest) async throws -> RequestRecord {
        if let reason = diskFault.current { throw StoreError.degraded(reason) }
        let record = try await committer.submit(request)
        if case .deleteProfile = request.lifecycle { await checkpointer.truncate() }
        return record
    }

    /// ``apply(_:)`` with its result handed to `done` on the commit thread; an erasure, which waits for its checkpoint too, takes a task.
    public func apply(_ request: PreparedRequest, then done: @escaping @Sendable (Result<RequestRecord, any Error>) -> Void) {
        if let reason = diskFault.current { return done(.failure(StoreError.degraded(reason))) }
        if case .deleteProfile = request.lifecycle { return applyInTask(request, then: done) }
        committer.submit(request, then: done)
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
    private static func commit(_ batch: [PreparedRequest], pool: DatabasePool, ids: SQLiteIDs) -> [Result<RequestRecord, any Error>] {
        var busyAttempts = 0
        var isolating = false
        while true {
            var results: [Result<RequestRecord, any Error>] = []
            var namespaces: [Namespace: Int64] = [:]
            var names: [SQLiteIDs.NameKey: SQLiteIDs.RegisteredName] = [:]
            do {
                try pool.writeWithoutTransaction { db in
                    try db.inTransaction(.immediate) {
                        ids.check(drops: try SQLiteBinder.integer(db.cachedStatement(sql: Self.selectDrops), in: db) { _ in } ?? 0)
                        for request in batch {
                            func apply() throws -> (RequestRecord, SQLiteTransaction) {
                                let namespace = try ids.namespace(request.namespace) ?? namespaces[request.namespace]
                                    ?? SQLiteTransaction.namespaceID(request.namespace, in: db)
                                var transaction = SQLiteTransaction(db: db, ids: ids, namespace: namespace, request: request)
                                return (try RequestApplier.apply(request, in: &transaction), transaction)
                            }
                            do {
                                let (record, transaction) = isolating ? try inSavepoint(db, apply) : try apply()
                                results.append(.success(record))
                                namespaces[request.namespace] = transaction.namespace
                                for (name, registered) in transaction.learned {
                                    names[.init(namespace: transaction.namespace, name: name)] = registered
                                }
                                for name in transaction.dropped { names[.init(namespace: transaction.namespace, name: name)] = nil }
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
                ids.remember(namespaces: namespaces, names: names)
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

    static let selectDrops = "SELECT value FROM store_state WHERE key = 'name_drops'"

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
        try await pool.read { db -> Profile? in
            let find = try db.cachedStatement(sql: """
                SELECT p.created_at, p.updated_at, p.props FROM profiles p JOIN namespaces n ON n.id = p.namespace
                WHERE n.workspace = ? AND n.version = ? AND p.distinct_id = ?
                """)
            var found: (profile: Profile, values: PackedValues)?
            try SQLiteBinder.forEachRow(find, in: db, limit: 1, { binder in
                binder.text(namespace.workspace); binder.text(namespace.version.rawValue); binder.text(distinctID)
            }) { row in
                found = (Profile(distinctID: distinctID, properties: [], createdAt: Date(epochMilliseconds: sqlite3_column_int64(row, 0)),
                                 updatedAt: Date(epochMilliseconds: sqlite3_column_int64(row, 1))),
                         try PackedValues(blob: StoredValue.blob(row, 2)))
            }
            guard let found else { return nil }
            var profile = found.profile
            let values = found.values
            // A name dropped, its value not yet reclaimed, has no row here.
            let name = try db.cachedStatement(sql: "SELECT name, type FROM property_names WHERE id = ?")
            try values.forEach { entry in
                try SQLiteBinder.forEachRow(name, in: db, limit: 1, { $0.integer(entry.name) }) { row in
                    let name = StoredValue.text(row, 0)
                    profile.properties.append((name, try values.value(entry, as: PropertyType(stored: StoredValue.text(row, 1)))))
                    if let request = values.request(entry) { profile.lastChangedBy[name] = request }
                }
            }
            profile.properties.sort { $0.name < $1.name }
            return profile
        }
    }

    /// The stored record of a request, its profile ids resolved to distinct_ids.
    public func record(_ requestID: UUID, in namespace: Namespace) async throws -> RequestRecord? {
        try await pool.read { db -> RequestRecord? in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT r.received_at, r.results FROM requests r JOIN namespaces n ON n.id = r.namespace
                WHERE r.id = ? AND n.workspace = ? AND n.version = ?
                """, arguments: [requestID.blob, namespace.workspace, namespace.version.rawValue]) else { return nil }
            let distinctID = try db.cachedStatement(sql: "SELECT distinct_id FROM profiles WHERE id = ?")
            let receivedAt = Date(epochMilliseconds: row[0])
            switch try StoredRecord.decode(row[1], distinctID: { id in try String.fetchOne(distinctID, arguments: [id]) }) {
            case .ops(let results): return RequestRecord(id: requestID, receivedAt: receivedAt, results: results)
            case .lifecycle(let entry): return RequestRecord(id: requestID, receivedAt: receivedAt, results: [], lifecycle: entry)
            }
        }
    }

    /// Every registered type of the namespace.
    public func registeredTypes(in namespace: Namespace) async throws -> [String: PropertyType] {
        let rows = try await pool.read { db -> [(name: String, type: String)] in
            try Row.fetchAll(db, sql: """
                SELECT t.name, t.type FROM property_names t JOIN namespaces n ON n.id = t.namespace
                WHERE n.workspace = ? AND n.version = ?
                """, arguments: [namespace.workspace, namespace.version.rawValue]).map { ($0[0], $0[1]) }
        }
        var types: [String: PropertyType] = [:]
        for row in rows { types[row.name] = try PropertyType(stored: row.type) }
        return types
    }

    /// Deletes up to `limit` records received before `cutoff`, oldest first, in one short write transaction.
    ///
    /// Time-ordered ids begin with their time, so the records to go are a
    /// range of the primary key; records kept under older random ids are
    /// found through `legacy_requests_by_time` (``StorageV2/lifecycle``).
    public func deleteRecords(receivedBefore cutoff: Date, limit: Int) async throws -> Int {
        let bound = UUID.timeOrdered(at: cutoff).timePrefix
        return try await pool.write { db in
            try db.execute(sql: """
                DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE id < ? AND NOT \(StorageV2.legacyRequest) LIMIT ?)
                """, arguments: [bound, limit])
            var deleted = db.changesCount
            if deleted < limit {
                try db.execute(sql: """
                    DELETE FROM requests WHERE id IN (
                        SELECT id FROM requests WHERE \(StorageV2.legacyRequest) AND received_at < ? LIMIT ?)
                    """, arguments: [cutoff.epochMilliseconds, limit - deleted])
                deleted += db.changesCount
            }
            // Mentions of records now gone (an erasure removes the others).
            try db.execute(sql: "DELETE FROM record_mentions WHERE request NOT IN (SELECT id FROM requests)")
            return deleted
        }
    }

    /// Deletes the values of one dropped property from up to `limit`
    /// profiles, in one short write transaction; false once none is left to
    /// reclaim. The profiles holding one are found through `property_values`,
    /// which begins with the name.
    public func reclaimDroppedValues(limit: Int) async throws -> Bool {
        try await pool.write { db in
            guard let name = try Int64.fetchOne(db, sql: "SELECT id FROM dropped_names ORDER BY id LIMIT 1") else { return false }
            let holders = try Int64.fetchAll(db, sql: "SELECT profile FROM property_values WHERE name = ? LIMIT ?", arguments: [name, limit])
            let select = try db.cachedStatement(sql: "SELECT props FROM profiles WHERE id = ?")
            let update = try db.cachedStatement(sql: "UPDATE profiles SET props = ? WHERE id = ?")
            let delete = try db.cachedStatement(sql: SQLiteTransaction.deleteIndexRow)
            for profile in holders {
                var values: PackedValues?
                try SQLiteBinder.forEachRow(select, in: db, limit: 1, { $0.integer(profile) }) { row in
                    values = try PackedValues(blob: StoredValue.blob(row, 0))
                }
                guard var values, let entry = values.entry(name) else {
                    // An index row whose profile holds no such value: it goes, or it would be found again each step.
                    try db.execute(sql: "DELETE FROM property_values WHERE name = ? AND profile = ?", arguments: [name, profile])
                    continue
                }
                try SQLiteBinder.run(delete, in: db) { binder in
                    binder.integer(name); values.bind(entry, to: &binder); binder.integer(profile)
                }
                values.remove(name)
                try values.bytes.withUnsafeBytes { blob in
                    try SQLiteBinder.run(update, in: db) { $0.bytes(blob, asText: false); $0.integer(profile) }
                }
            }
            if holders.count < limit { try db.execute(sql: "DELETE FROM dropped_names WHERE id = ?", arguments: [name]) }
            return true
        }
    }

    /// Commits what is queued, then closes the file.
    public func close() async throws {
        await committer.close()
        await queries.stop()
        try checkpointer.close()
        try pool.close()
    }
}

extension UUID {
    /// The 16 bytes SQLite keys a request record by.
    var blob: Data { withUnsafeBytes(of: uuid) { Data($0) } }

    /// Reads back ``blob``; nil unless `blob` holds 16 bytes.
    init?(blob: Data) {
        guard blob.count == 16 else { return nil }
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &uuid) { $0.copyBytes(from: blob) }
        self.init(uuid: uuid)
    }

    /// The first 6 bytes (a time-ordered id's milliseconds) followed by zeros:
    /// below every time-ordered id of that millisecond or later.
    var timePrefix: Data { Data(blob.prefix(6)) + Data(count: 10) }
}

extension DatabaseError {
    var isBusy: Bool { resultCode == .SQLITE_BUSY || resultCode == .SQLITE_LOCKED }
}
