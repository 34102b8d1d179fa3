import Foundation
import GRDB
import GRDBSQLite

/// SPEC §8 on SQLite: each query and count is one read transaction on a pool
/// reader (a WAL snapshot, so it never blocks the writer), stopped by a
/// progress handler once past its time limit.
extension SQLiteStore {
    public func profiles(matching query: ProfileQuery, timeout: Duration) async throws -> [Profile] {
        try await read(timeout: timeout) { db in
            guard let (namespace, names) = try Self.names(of: query.namespace, in: db) else { return [] }
            var filter = SQLiteFilter(names: names)
            let condition = filter.sql(query.filter)
            let rows = try Row.fetchAll(db, sql: """
                SELECT p.id, p.distinct_id, p.created_at, p.updated_at FROM profiles p
                WHERE p.namespace = ? AND p.distinct_id > ? AND \(condition) ORDER BY p.distinct_id LIMIT ?
                """, arguments: StatementArguments([namespace, query.after ?? ""] + filter.arguments + [query.limit]))
            var profiles = rows.map { row in
                Profile(distinctID: row[1], properties: [],
                        createdAt: Date(epochMilliseconds: row[2]), updatedAt: Date(epochMilliseconds: row[3]))
            }
            guard !profiles.isEmpty, query.properties != [] else { return profiles }
            let index = Dictionary(uniqueKeysWithValues: rows.enumerated().map { ($0.element[0] as Int64, $0.offset) })
            let projection = query.properties.map { names in " AND n.name IN (SELECT value FROM json_each(?))" } ?? ""
            var arguments: [(any DatabaseValueConvertible)?] = [JSON.array(index.keys.map { .integer($0) }).text]
            if let names = query.properties { arguments.append(JSON.array(names.map(JSON.string)).text) }
            let values = try Row.fetchCursor(db, sql: """
                SELECT v.profile, n.name, n.type, v.value, v.text FROM properties v JOIN property_names n ON n.id = v.name
                WHERE v.profile IN (SELECT value FROM json_each(?))\(projection) ORDER BY v.profile, n.name
                """, arguments: StatementArguments(arguments))
            while let row = try values.next() {
                let value = try StoredValue.value(of: try PropertyType(stored: row[2]), from: row, at: 3)
                profiles[index[row[0] as Int64]!].properties.append((row[1], value))
            }
            return profiles
        }
    }

    public func count(matching filter: Filter, in namespace: Namespace, timeout: Duration) async throws -> Int {
        try await read(timeout: timeout) { db in
            guard let (namespace, names) = try Self.names(of: namespace, in: db) else { return 0 }
            var compiled = SQLiteFilter(names: names)
            let condition = compiled.sql(filter)
            return try Int.fetchOne(db, sql: "SELECT count(*) FROM profiles p WHERE p.namespace = ? AND \(condition)",
                                    arguments: StatementArguments([namespace] + compiled.arguments)) ?? 0
        }
    }

    /// The namespace's id and its registered names, or nil when nothing was ever written to it.
    private static func names(of namespace: Namespace, in db: Database) throws -> (Int64, [String: (id: Int64, type: PropertyType)])? {
        guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM namespaces WHERE workspace = ? AND version = ?",
                                          arguments: [namespace.workspace, namespace.version.rawValue]) else { return nil }
        var names: [String: (id: Int64, type: PropertyType)] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT id, name, type FROM property_names WHERE namespace = ?", arguments: [id]) {
            names[row[1]] = (row[0], try PropertyType(stored: row[2]))
        }
        return (id, names)
    }

    /// `body` in a read transaction that SQLite interrupts once `timeout` has
    /// passed (its progress handler runs every few thousand VM steps).
    private func read<T: Sendable>(timeout: Duration, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let deadline = DispatchTime.now().uptimeNanoseconds &+ UInt64(max(0, timeout.nanoseconds))
        return try await pool.read { db in
            let limit = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
            limit.initialize(to: deadline)
            sqlite3_progress_handler(db.sqliteConnection, 4096, { context in
                DispatchTime.now().uptimeNanoseconds > context!.load(as: UInt64.self) ? 1 : 0
            }, limit)
            defer {
                sqlite3_progress_handler(db.sqliteConnection, 0, nil, nil)
                limit.deallocate()
            }
            do {
                return try body(db)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_INTERRUPT {
                throw StoreError.queryTimeout
            }
        }
    }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? (seconds < 0 ? .min : .max) : whole &+ attoseconds / 1_000_000_000
    }
}
