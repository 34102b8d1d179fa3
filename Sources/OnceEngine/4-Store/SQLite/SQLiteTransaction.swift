import Foundation
import GRDB

/// ``StoreTransaction`` on an open SQLite write transaction.
///
/// Every step that depends on stored state is one conditional statement:
/// set-once is `INSERT … ON CONFLICT DO NOTHING` and its outcome is the change
/// count; a type registers with the same kind of insert and the winner is read
/// back. Reading a list and writing it back is safe here because SQLite
/// transactions are `BEGIN IMMEDIATE`: the database is write-locked, across
/// processes, until commit.
struct SQLiteTransaction: LockedListEditing {
    let db: Database
    let namespace: Namespace
    let now: Int64
    var types: TypeLookup

    init(db: Database, cache: TypeCache, request: PreparedRequest) {
        self.db = db
        self.types = TypeLookup(cache: cache, namespace: request.namespace)
        self.namespace = request.namespace
        self.now = request.receivedAt.epochMilliseconds
    }

    mutating func registeredType(_ name: String, registering candidate: PropertyType?) throws -> PropertyType? {
        let transaction = self
        return try types.type(of: name, registering: candidate, register: { candidate in
            try transaction.run(Self.registerType) { $0.text(name); $0.text(candidate.rawValue); $0.integer(transaction.now) }
        }, readBack: {
            try SQLiteBinder.text(transaction.db.cachedStatement(sql: Self.selectType), in: transaction.db) { bind in
                bind.text(transaction.namespace.workspace); bind.text(transaction.namespace.version.rawValue); bind.text(name)
            }
        })
    }

    func createProfile(_ distinctID: String) throws -> Bool {
        try run(Self.insertProfile) { $0.text(distinctID); $0.integer(now); $0.integer(now) } > 0
    }

    func touchProfile(_ distinctID: String) throws {
        try run(Self.touchProfile) { $0.text(distinctID); $0.integer(now) }
    }

    func insertIfAbsent(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool {
        try run(Self.insertOnce) { $0.text(distinctID); $0.text(name); $0.value(value); $0.integer(now) } > 0
    }

    func upsert(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool {
        try run(Self.upsertSet) { $0.text(distinctID); $0.text(name); $0.value(value); $0.integer(now) } > 0
    }

    func add(_ distinctID: String, _ name: String, _ number: PropertyValue) throws {
        try run(Self.upsertAdd) { $0.text(distinctID); $0.text(name); $0.value(number); $0.integer(now) }
    }

    func list(_ distinctID: String, _ name: String) throws -> [PropertyValue]? {
        let arguments: StatementArguments = [namespace.workspace, namespace.version.rawValue, distinctID, name]
        guard let row = try Row.fetchOne(db.cachedStatement(sql: Self.selectValue), arguments: arguments) else { return nil }
        guard case .list(let elements) = try StoredValue.value(from: row, at: 0) else {
            throw StoreError.corrupt("\(name) is registered as a list but holds another type")
        }
        return elements
    }

    func delete(_ distinctID: String, _ name: String) throws -> Bool {
        try run(Self.deleteProperty) { $0.text(distinctID); $0.text(name) } > 0
    }

    func save(_ record: RequestRecord) throws {
        let results = JSON.array(record.results.map(\.json)).text
        try run(Self.insertRequest) { $0.text(record.id.lowercaseString); $0.integer(now); $0.text(results) }
    }

    /// Runs a cached statement; every statement here takes the namespace as its first two arguments.
    @discardableResult
    private func run(_ sql: String, _ bind: (inout SQLiteBinder) -> Void) throws -> Int {
        try SQLiteBinder.run(db.cachedStatement(sql: sql), in: db) { binder in
            binder.text(namespace.workspace)
            binder.text(namespace.version.rawValue)
            bind(&binder)
        }
    }

    static let insertProfile = """
        INSERT INTO profiles (workspace, version, distinct_id, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
        """
    static let touchProfile = """
        UPDATE profiles SET updated_at = ?4 WHERE workspace = ?1 AND version = ?2 AND distinct_id = ?3
        """
    static let insertRequest = """
        INSERT INTO requests (workspace, version, id, received_at, results) VALUES (?, ?, ?, ?, ?)
        """
    static let registerType = """
        INSERT INTO property_types (workspace, version, name, type, registered_at)
        VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
        """
    static let selectType = "SELECT type FROM property_types WHERE workspace = ? AND version = ? AND name = ?"
    static let selectValue = """
        SELECT type, text, number, instant, list FROM properties
        WHERE workspace = ? AND version = ? AND distinct_id = ? AND name = ?
        """
    private static let insertProperty = """
        INSERT INTO properties (workspace, version, distinct_id, name, type, text, number, instant, list, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """
    static let insertOnce = insertProperty + " ON CONFLICT DO NOTHING"
    /// Changes nothing (and counts no change) when the same value, in the same written form, is already there.
    static let upsertSet = insertProperty + """
         ON CONFLICT (workspace, version, distinct_id, name) DO UPDATE SET
            type = excluded.type, text = excluded.text, number = excluded.number,
            instant = excluded.instant, list = excluded.list, updated_at = excluded.updated_at
        WHERE properties.type IS NOT excluded.type OR properties.text IS NOT excluded.text
            OR properties.number IS NOT excluded.number OR typeof(properties.number) IS NOT typeof(excluded.number)
            OR properties.list IS NOT excluded.list
        """
    /// An unset number starts from 0: the insert stores the addend itself.
    static let upsertAdd = insertProperty + """
         ON CONFLICT (workspace, version, distinct_id, name) DO UPDATE SET
            number = properties.number + excluded.number, updated_at = excluded.updated_at
        """
    static let deleteProperty = """
        DELETE FROM properties WHERE workspace = ? AND version = ? AND distinct_id = ? AND name = ?
        """
}
