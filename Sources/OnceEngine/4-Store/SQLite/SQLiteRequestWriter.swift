import Foundation
import GRDB

/// Applies one prepared request inside an open SQLite write transaction.
///
/// Every decision that depends on stored state is a conditional statement:
/// set-once is `INSERT … ON CONFLICT DO NOTHING` and its outcome is the change
/// count; a type registers with the same kind of insert and the winner is read
/// back. Append and remove read the list and write it back, which is safe here
/// because SQLite transactions are `BEGIN IMMEDIATE`: the whole database is
/// write-locked, across processes, until commit.
struct SQLiteRequestWriter {
    let db: Database
    let cache: TypeCache
    /// Types read or registered by this request; kept only if it commits.
    var learned: [TypeCache.Key: PropertyType] = [:]

    private var namespace: Namespace!
    private var now: Int64 = 0

    init(db: Database, cache: TypeCache) {
        self.db = db
        self.cache = cache
    }

    mutating func apply(_ request: PreparedRequest) throws -> RequestRecord {
        namespace = request.namespace
        now = request.receivedAt.epochMilliseconds
        var results: [OpResult] = []
        for element in request.elements {
            results.append(contentsOf: try apply(element))
        }
        let record = RequestRecord(id: request.id, receivedAt: request.receivedAt, results: results)
        try execute(Self.insertRequest, [request.id.uuidString.lowercased(), now, JSON.array(results.map(\.json)).text])
        return record
    }

    private mutating func apply(_ element: PreparedElement) throws -> [OpResult] {
        let id = element.distinctID
        var created = false
        if element.createsProfile {
            try execute(Self.insertProfile, [id, now, now])
            created = db.changesCount > 0
        }
        var changed = false
        var results: [OpResult] = []
        for op in element.ops {
            var properties: [PropertyResult] = []
            for property in op.properties {
                let result = property.withProvenance(try apply(op.op, property, distinctID: id))
                changed = changed || result.outcome == .set || result.outcome == .addedByRule || result.outcome == .unset
                properties.append(result)
            }
            results.append(OpResult(distinctID: id, op: op.op, properties: properties))
        }
        if changed && !created {
            try execute(Self.touchProfile, [id, now])
        }
        return results
    }

    private mutating func apply(_ op: Op, _ property: PreparedProperty, distinctID id: String) throws -> PropertyResult {
        let name = property.name
        func outcome(_ outcome: Outcome, _ reason: String? = nil) -> PropertyResult {
            PropertyResult(name: name, outcome: outcome, reason: reason)
        }
        func mismatch(_ registered: PropertyType, _ sent: PropertyType) -> PropertyResult {
            outcome(.ignoredTypeMismatch, "\(name) is registered as \(registered.rawValue), not \(sent.rawValue)")
        }
        switch (op, property.plan) {
        case (_, .settled(let result)):
            return result

        case (.setOnce, .value(let value)), (.set, .value(let value)):
            let registered = try registeredType(name, registering: value.type)!
            guard let stored = value.conforming(to: registered) else { return mismatch(registered, value.type) }
            try execute(op == .setOnce ? Self.insertOnce : Self.upsertSet, [id, name] + StoredValue(stored).arguments + [now])
            return outcome(db.changesCount > 0 ? .set : .unchanged)

        case (.add, .value(let value)):
            let registered = try registeredType(name, registering: .number)!
            guard registered == .number else { return mismatch(registered, .number) }
            try execute(Self.upsertAdd, [id, name] + StoredValue(value).arguments + [now])
            return outcome(.set)

        case (.append, .elements(let elements)), (.remove, .elements(let elements)):
            let registered = try registeredType(name, registering: op == .append ? .list : nil)
            guard let registered else { return outcome(.unchanged) }
            guard registered == .list else { return mismatch(registered, .list) }
            let current = try storedList(name, distinctID: id)
            let edited = op == .append
                ? ListEdit.appending(elements, to: current ?? [])
                : current.flatMap { ListEdit.removing(elements, from: $0) }
            guard let edited else { return outcome(.unchanged) }
            if edited.count > Validator.maxListCount {
                return outcome(.ignoredInvalid, "lists hold at most \(Validator.maxListCount) elements")
            }
            try execute(Self.upsertSet, [id, name] + StoredValue(.list(edited)).arguments + [now])
            return outcome(.set)

        case (.unset, .delete):
            try execute(Self.deleteProperty, [id, name])
            return outcome(db.changesCount > 0 ? .unset : .unchanged)

        default:
            preconditionFailure("plan \(property.plan) does not fit op \(op)")
        }
    }

    /// The namespace's type for `name`, registering `candidate` if it has none.
    /// Nil only when there is none and `candidate` is nil.
    private mutating func registeredType(_ name: String, registering candidate: PropertyType?) throws -> PropertyType? {
        let key = TypeCache.Key(namespace: namespace, name: name)
        if let known = cache.type(of: name, in: namespace) ?? learned[key] { return known }
        if let candidate {
            try execute(Self.registerType, [name, candidate.rawValue, now])
        }
        let stored = try String.fetchOne(db.cachedStatement(sql: Self.selectType),
                                         arguments: [namespace.workspace, namespace.version.rawValue, name])
        guard let stored else { return nil }
        guard let type = PropertyType(rawValue: stored) else { throw StoreError.corrupt("unknown type \(stored)") }
        learned[key] = type
        return type
    }

    private func storedList(_ name: String, distinctID id: String) throws -> [PropertyValue]? {
        let arguments: StatementArguments = [namespace.workspace, namespace.version.rawValue, id, name]
        guard let row = try Row.fetchOne(db.cachedStatement(sql: Self.selectValue), arguments: arguments) else { return nil }
        guard case .list(let elements) = try StoredValue.value(from: row, at: 0) else {
            throw StoreError.corrupt("\(name) is registered as a list but holds another type")
        }
        return elements
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
