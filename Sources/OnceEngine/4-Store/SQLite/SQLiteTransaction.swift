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
struct SQLiteTransaction: StoreTransaction {
    let db: Database
    let cache: TypeCache
    let namespace: Namespace
    let now: Int64
    /// Types read or registered by this request; kept only if it commits.
    var learned: [TypeCache.Key: PropertyType] = [:]

    init(db: Database, cache: TypeCache, request: PreparedRequest) {
        self.db = db
        self.cache = cache
        self.namespace = request.namespace
        self.now = request.receivedAt.epochMilliseconds
    }

    mutating func registeredType(_ name: String, registering candidate: PropertyType?) throws -> PropertyType? {
        let key = TypeCache.Key(namespace: namespace, name: name)
        if let known = cache.type(of: name, in: namespace) ?? learned[key] { return known }
        if let candidate { try execute(Self.registerType, [name, candidate.rawValue, now]) }
        let stored = try String.fetchOne(db.cachedStatement(sql: Self.selectType),
                                         arguments: [namespace.workspace, namespace.version.rawValue, name])
        guard let stored else { return nil }
        guard let type = PropertyType(rawValue: stored) else { throw StoreError.corrupt("unknown type \(stored)") }
        learned[key] = type
        return type
    }

    func createProfile(_ distinctID: String) throws -> Bool {
        try execute(Self.insertProfile, [distinctID, now, now])
        return db.changesCount > 0
    }

    func touchProfile(_ distinctID: String) throws {
        try execute(Self.touchProfile, [distinctID, now])
    }

    func insertIfAbsent(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool {
        try execute(Self.insertOnce, [distinctID, name] + StoredValue(value).arguments + [now])
        return db.changesCount > 0
    }

    func upsert(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool {
        try execute(Self.upsertSet, [distinctID, name] + StoredValue(value).arguments + [now])
        return db.changesCount > 0
    }

    func add(_ distinctID: String, _ name: String, _ number: PropertyValue) throws {
        try execute(Self.upsertAdd, [distinctID, name] + StoredValue(number).arguments + [now])
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
        try execute(Self.deleteProperty, [distinctID, name])
        return db.changesCount > 0
    }

    func save(_ record: RequestRecord) throws {
        try execute(Self.insertRequest, [record.id.uuidString.lowercased(), now, JSON.array(record.results.map(\.json)).text])
    }

    /// Runs a cached statement; every statement here takes the namespace as its first two arguments.
    private func execute(_ sql: String, _ arguments: [any DatabaseValueConvertible]) throws {
        let all: [any DatabaseValueConvertible] = [namespace.workspace, namespace.version.rawValue] + arguments
        try db.cachedStatement(sql: sql).execute(arguments: StatementArguments(all))
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
