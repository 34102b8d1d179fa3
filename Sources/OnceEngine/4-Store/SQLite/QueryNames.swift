import GRDB
import GRDBSQLite
import Synchronization

/// Each namespace's id and registered names as cohort queries last read
/// them, kept while the file's names stay as they were.
///
/// Reading a namespace's names (a join, a string and a type per name) was a
/// fifth of a one-profile query's CPU. They change only when a namespace is
/// made (a new, higher namespace id), a name is registered (a new, higher
/// name id: AUTOINCREMENT never reuses one) or dropped (the drop count moves),
/// so those three numbers, read in the query's own transaction by one short
/// statement, say whether what was read before still holds, in any process.
final class QueryNames: Sendable {
    /// A namespace's id (nil before its first write), its names by name, and
    /// what queries derive from them, derived once while the names hold.
    struct Read: Sendable {
        let id: Int64?
        let names: SQLiteStore.Names
        /// Each name's type, as a query body is checked against them.
        let types: [String: PropertyType]
        let ranked: Ranked

        init(id: Int64?, names: SQLiteStore.Names) {
            self.id = id
            self.names = names
            types = names.mapValues(\.type)
            ranked = Ranked(names)
        }
    }

    /// Names in byte order, and each one's place there by its id: sorted
    /// once while the names hold, not for every page.
    struct Ranked: Sendable {
        let names: [(name: String, type: PropertyType)]
        let rankByID: [Int64: Int]

        init(_ names: SQLiteStore.Names) {
            let sorted = names.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            self.names = sorted.map { ($0.key, $0.value.type) }
            rankByID = Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($0.element.value.id, $0.offset) })
        }
    }

    /// The newest namespace id, the newest name id and the drop count.
    struct Version: Equatable {
        var namespaces: Int64
        var names: Int64
        var drops: Int64
    }

    private struct Kept {
        var version: Version?
        var byNamespace: [Namespace: Read] = [:]
    }

    private let kept = Mutex(Kept())
    /// Namespaces kept at most: past it the map starts afresh.
    let capacity: Int

    init(capacity: Int = 1024) {
        self.capacity = capacity
    }

    /// `namespace`'s id and names as of `db`'s read transaction.
    func read(_ namespace: Namespace, in db: Database, statements: QueryStatements) throws -> Read {
        let version = try Self.version(db, statements)
        if let hit = kept.withLock({ $0.version == version ? $0.byNamespace[namespace] : nil }) { return hit }
        let read = try Self.names(of: namespace, in: db)
        kept.withLock { kept in
            if kept.version != version || kept.byNamespace.count >= capacity { kept = Kept(version: version) }
            kept.byNamespace[namespace] = read
        }
        return read
    }

    private static func version(_ db: Database, _ statements: QueryStatements) throws -> Version {
        let statement = try statements.statement("""
            SELECT coalesce((SELECT max(id) FROM namespaces), 0), coalesce((SELECT max(id) FROM property_names), 0),
                coalesce((SELECT value FROM store_state WHERE key = 'name_drops'), 0)
            """, in: db)
        var version = Version(namespaces: 0, names: 0, drops: 0)
        try SQLiteBinder.forEachRow(statement, in: db, { _ in }) { row in
            version = Version(namespaces: sqlite3_column_int64(row, 0), names: sqlite3_column_int64(row, 1),
                              drops: sqlite3_column_int64(row, 2))
        }
        return version
    }

    /// The namespace's id and its registered names, in one statement.
    private static func names(of namespace: Namespace, in db: Database) throws -> Read {
        let statement = try db.cachedStatement(sql: """
            SELECT n.id, t.id, t.name, t.type FROM namespaces n LEFT JOIN property_names t ON t.namespace = n.id
            WHERE n.workspace = ? AND n.version = ?
            """)
        var id: Int64?
        var names: SQLiteStore.Names = [:]
        try SQLiteBinder.forEachRow(statement, in: db, { $0.text(namespace.workspace); $0.text(namespace.version.rawValue) }) { row in
            id = sqlite3_column_int64(row, 0)
            guard sqlite3_column_type(row, 1) != SQLITE_NULL else { return }
            names[StoredValue.text(row, 2)] = (sqlite3_column_int64(row, 1), try PropertyType(stored: StoredValue.text(row, 3)))
        }
        return Read(id: id, names: names)
    }
}
