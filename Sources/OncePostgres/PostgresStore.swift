import Dispatch
import Foundation
import Logging
import OnceEngine
import PostgresNIO

/// The store for many processes: any number of `onced` daemons and `apply`
/// runs share one PostgreSQL (or PostgreSQL-compatible) database.
///
/// Writes go through ``Options/writers`` group commits, each on a dedicated
/// connection: the requests queued on one meanwhile share one transaction and
/// one commit, and the writers overlap their round trips to the server. A
/// request goes to the writer its first profile hashes to, so one profile's
/// writes from this process stay in order and never contend with each other. A conflict
/// with another process (serialization failure, deadlock) runs the batch
/// again; a request whose own statement fails is committed alone so it fails
/// alone; a lost connection fails the batch with ``StoreError/unavailable``
/// (never acknowledged) and is reopened, with backoff, by the next batch.
/// Reads go through a postgres-nio connection pool.
public final class PostgresStore: ProfileStore {
    /// Connection and batching settings.
    public struct Options: Sendable {
        /// Longest wait for a new connection.
        public var connectTimeout: TimeInterval = 5
        /// Longest wait for any statement's answer.
        public var queryTimeout: TimeInterval = 10
        /// Most requests committed in one transaction.
        public var maxBatch = 256
        /// Times a batch runs before a conflict with other writers fails it.
        public var maxAttempts = 8
        /// Writer connections, each committing its own batches.
        public var writers = 4
        /// Pooled connections for reads.
        public var readConnections = 8
        /// The defaults above.
        public init() {}
    }

    private let client: PostgresClient
    private let clientTask: Task<Void, Never>
    private let committers: [GroupCommit<PreparedRequest, RequestRecord>]
    private let writers: [WriterBox]
    private let logger: Logger
    private let options: Options

    /// Connects, applies the schema migrations this database lacks, and opens the pool.
    public static func open(_ url: PostgresURL, options: Options = Options(),
                            logger: Logger = Logger(label: "onced.postgres")) async throws -> PostgresStore {
        let configuration = try url.connectionConfiguration(connectTimeout: options.connectTimeout)
        let writers = (0..<max(1, options.writers)).map { _ in
            WriterBox(PostgresSession(configuration: configuration, queryTimeout: options.queryTimeout, logger: logger))
        }
        var poolLogger = logger
        poolLogger.logLevel = max(logger.logLevel, .notice)  // the pool reports every failed connect at info
        let client = PostgresClient(configuration: try url.clientConfiguration(connectTimeout: options.connectTimeout,
                                                                               maxConnections: options.readConnections),
                                    backgroundLogger: poolLogger)
        do {
            try await writers[0].perform { try PostgresSchema.migrate($0) }
        } catch {
            try? await writers[0].perform { $0.close() }  // an open connection must be closed before it is dropped
            throw error
        }
        return PostgresStore(client: client, writers: writers, options: options, logger: logger)
    }

    private init(client: PostgresClient, writers: [WriterBox], options: Options, logger: Logger) {
        self.client = client
        self.clientTask = Task { await client.run() }
        self.writers = writers
        self.logger = logger
        self.options = options
        let cache = TypeCache()
        committers = writers.enumerated().map { index, writer in
            GroupCommit(label: "onced.postgres.commit.\(index)", maxBatch: options.maxBatch,
                        onBatch: { EngineMetrics.commitBatchSize.record($0) }) { batch in
                BatchCommit(session: writer.session, cache: cache, maxAttempts: options.maxAttempts, logger: logger).run(batch)
            }
        }
    }

    /// Queues the request for its writer's next group commit; returns once it is committed.
    public func apply(_ request: PreparedRequest) async throws -> RequestRecord {
        try await committers[writer(of: request)].submit(request)
    }

    /// ``apply(_:)`` with its result handed to `done` on the writer's commit thread.
    public func apply(_ request: PreparedRequest, then done: @escaping @Sendable (Result<RequestRecord, any Error>) -> Void) {
        committers[writer(of: request)].submit(request, then: done)
    }

    /// Queues each request with its writer, all at once; one result per request, in order.
    public func apply(contentsOf requests: [PreparedRequest]) async -> [Result<RequestRecord, any Error>] {
        let byWriter = Dictionary(grouping: requests.indices) { writer(of: requests[$0]) }
        return await withTaskGroup(of: [(Int, Result<RequestRecord, any Error>)].self) { group in
            for (writer, indices) in byWriter {
                group.addTask {
                    let results = await self.committers[writer].submit(contentsOf: indices.map { requests[$0] })
                    return Array(zip(indices, results))
                }
            }
            var results = [Result<RequestRecord, any Error>?](repeating: nil, count: requests.count)
            for await finished in group {
                for (index, result) in finished { results[index] = result }
            }
            return results.map { $0! }
        }
    }

    /// Requests for one profile go to one writer, so they never wait on each other's locks.
    private func writer(of request: PreparedRequest) -> Int {
        var hasher = Hasher()
        if case .deleteProfile(let distinctID) = request.lifecycle {
            hasher.combine(distinctID)  // with the profile's writes, in order
        } else {
            hasher.combine(request.elements.first?.distinctID)
        }
        return Int(UInt(bitPattern: hasher.finalize()) % UInt(committers.count))
    }

    /// The profile with its properties sorted by name, or nil if no write created it.
    public func profile(_ distinctID: String, in namespace: Namespace) async throws -> Profile? {
        let (workspace, version) = (namespace.workspace, namespace.version.rawValue)
        let times = try await pooled { client, logger in
            try await client.query("""
                SELECT created_at, updated_at FROM profiles WHERE workspace = \(workspace) AND version = \(version)
                AND distinct_id = \(distinctID)
                """, logger: logger).collect().first?.decode((Int64, Int64).self)
        }
        guard let times else { return nil }
        let rows = try await pooled { client, logger in
            try await client.query(PostgresQuery(unsafeSQL: """
                SELECT name, \(PostgresValue.selectColumns), request FROM properties p
                WHERE workspace = $1 AND version = $2 AND distinct_id = $3 AND NOT EXISTS (
                    SELECT 1 FROM stale_properties s WHERE s.workspace = $1 AND s.version = $2 AND s.stored_name = p.name)
                """, binds: PostgresBindings([workspace, version, distinctID])), logger: logger)
                .collect().map { try $0.decode((String, String, String?, String?, Bool?, Int64?, String?, String?).self) }
        }
        var profile = Profile(distinctID: distinctID, properties: [],
                              createdAt: Date(epochMilliseconds: times.0), updatedAt: Date(epochMilliseconds: times.1))
        for row in rows {
            let name = Registration.propertyName(stored: row.0)
            profile.properties.append((name, try PostgresValue.read((row.1, row.2, row.3, row.4, row.5, row.6))))
            if let request = row.7.flatMap(UUID.init(uuidString:)) { profile.lastChangedBy[name] = request }
        }
        profile.properties.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        return profile
    }

    /// The stored record of a request.
    public func record(_ requestID: UUID, in namespace: Namespace) async throws -> RequestRecord? {
        let (workspace, version, id) = (namespace.workspace, namespace.version.rawValue, requestID.lowercaseString)
        let stored = try await pooled { client, logger in
            try await client.query("""
                SELECT received_at, results FROM requests WHERE workspace = \(workspace) AND version = \(version) AND id = \(id)
                """, logger: logger).collect().first?.decode((Int64, String).self)
        }
        guard let stored else { return nil }
        return try RequestRecord(id: requestID, receivedAtMilliseconds: stored.0, storedResults: stored.1)
    }

    /// Every registered type of the namespace.
    public func registeredTypes(in namespace: Namespace) async throws -> [String: PropertyType] {
        let (workspace, version) = (namespace.workspace, namespace.version.rawValue)
        let rows = try await pooled { client, logger in
            try await client.query("""
                SELECT name, type FROM property_types WHERE workspace = \(workspace) AND version = \(version)
                """, logger: logger).collect().map { try $0.decode((String, String).self) }
        }
        var types: [String: PropertyType] = [:]
        for (name, typeName) in rows { types[name] = try PropertyType(stored: typeName) }
        return types
    }

    /// Deletes up to `limit` records received before `cutoff` (through `requests_by_time`).
    public func deleteRecords(receivedBefore cutoff: Date, limit: Int) async throws -> Int {
        let (before, limit) = (cutoff.epochMilliseconds, limit)
        return try await pooled { client, logger in
            try await client.query("""
                DELETE FROM requests WHERE (workspace, version, id) IN (
                    SELECT workspace, version, id FROM requests WHERE received_at < \(before) LIMIT \(limit))
                RETURNING 1
                """, logger: logger).collect().count
        }
    }

    /// Deletes the rows of one dropped generation (`stale_properties`) held
    /// by the next `limit` profiles in distinct_id order, through the primary
    /// key (no index by name is kept for this alone); false once none is left.
    /// Processes doing this at once only repeat each other's deletes.
    public func reclaimDroppedValues(limit: Int) async throws -> Bool {
        try await pooled { client, logger in
            guard let stale = try await client.query("""
                SELECT workspace, version, stored_name, reclaimed_to FROM stale_properties LIMIT 1
                """, logger: logger).collect().first?.decode((String, String, String, String).self) else { return false }
            let (workspace, version, name, after) = stale
            let step = try await client.query("""
                WITH chunk AS (
                    SELECT distinct_id FROM profiles WHERE workspace = \(workspace) AND version = \(version)
                    AND distinct_id > \(after) ORDER BY distinct_id LIMIT \(limit)),
                bound AS (SELECT max(distinct_id) AS last, count(*) AS profiles FROM chunk),
                gone AS (
                    DELETE FROM properties WHERE workspace = \(workspace) AND version = \(version) AND name = \(name)
                    AND distinct_id > \(after) AND distinct_id <= (SELECT last FROM bound))
                SELECT last, profiles FROM bound
                """, logger: logger).collect().first?.decode((String?, Int64).self)
            if let step, let last = step.0, step.1 == Int64(limit) {
                _ = try await client.query("""
                    UPDATE stale_properties SET reclaimed_to = \(last)
                    WHERE workspace = \(workspace) AND version = \(version) AND stored_name = \(name)
                    """, logger: logger).collect()
            } else {
                _ = try await client.query("""
                    DELETE FROM stale_properties WHERE workspace = \(workspace) AND version = \(version) AND stored_name = \(name)
                    """, logger: logger).collect()
            }
            return true
        }
    }

    /// Commits what is queued, then closes every connection.
    public func close() async throws {
        for committer in committers { await committer.close() }
        for writer in writers { try await writer.perform { $0.close() } }
        clientTask.cancel()
        await clientTask.value
    }

    /// One pooled query under the query deadline. A server error stays itself and
    /// unreadable data is ``StoreError/corrupt``; anything else (the server or the
    /// pool cannot be reached) reads as ``StoreError/unavailable``.
    /// `extraSeconds` lengthen the deadline for work with a time limit of its own (a cohort query's).
    func pooled<T: Sendable>(extraSeconds: Double = 0,
                             _ body: @escaping @Sendable (PostgresClient, Logger) async throws -> T) async throws -> T {
        let (client, logger) = (self.client, self.logger)
        do {
            return try await Deadline.run(options.queryTimeout + extraSeconds) { try await body(client, logger) }
        } catch let error as StoreError {
            throw error
        } catch let error as DecodeError {
            throw error  // a query body checked against the types the read saw: a 400, not an outage
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "57014" {
            throw StoreError.queryTimeout  // statement_timeout
        } catch let error as PostgresDecodingError {
            throw StoreError.corrupt("\(error)")
        } catch {
            let failure = PostgresFailure(error, connectionLost: false)
            if failure.kind == .statement { throw failure }
            logger.warning("PostgreSQL read failed: \(String(reflecting: error))")
            throw StoreError.unavailable(failure.description)
        }
    }
}

/// The writer's session, used only on one serial queue at a time: first by
/// `open` (migrations), then by the group commit's drain.
private final class WriterBox: @unchecked Sendable {
    let session: PostgresSession
    private let queue = DispatchQueue(label: "onced.postgres.setup")

    init(_ session: PostgresSession) {
        self.session = session
    }

    /// Runs blocking session work off the cooperative pool.
    func perform<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(self.session) }) }
        }
    }
}

extension PostgresRowSequence {
    /// Every row, in order.
    func collect() async throws -> [PostgresRow] {
        var rows: [PostgresRow] = []
        for try await row in self { rows.append(row) }
        return rows
    }
}
