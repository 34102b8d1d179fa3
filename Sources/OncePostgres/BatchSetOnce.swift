import OnceEngine
import PostgresNIO

/// A batch of set-once requests inserts all its values in one statement
/// (after ``BatchProfiles`` inserted its profiles in another).
///
/// Inserting each request's profile and values on its own cost two round trips
/// per request: the writer waited on the network, not on PostgreSQL. Up front,
/// the batch's outcome for each property is exactly what running its requests
/// one by one would give — the first occurrence of a property in the batch is
/// the one inserted, and it counts as `set` only if the statement inserted it —
/// provided that nothing else in the batch writes properties and that every
/// value's registered type is known without a statement.
final class BatchSetOnce {
    private var unclaimed: Set<PropertyKey>

    /// The first value of each property in the batch, sorted; nil when some op
    /// of the batch is not `set_once` or some value's type is not in `cache` yet.
    static func firstValues(of batch: [PreparedRequest], cache: TypeCache) -> [Row]? {
        var firstValues: [PropertyKey: Row] = [:]
        for request in batch {
            guard request.lifecycle == nil else { return nil }
            let id = request.id.lowercaseString
            for element in request.elements {
                for op in element.ops {
                    guard op.op == .setOnce else { return nil }
                    for property in op.properties {
                        guard case .value(let value) = property.plan else { continue }  // settled before the store
                        guard let registered = cache.registration(of: property.name, in: request.namespace) else { return nil }
                        guard let stored = value.conforming(to: registered.type) else { continue }  // a type mismatch
                        let key = PropertyKey(request.namespace, element.distinctID, registered.storedName(of: property.name))
                        if firstValues[key] == nil { firstValues[key] = (key, stored, request.receivedAt.epochMilliseconds, id) }
                    }
                }
            }
        }
        // One order for every process: two batches then lock shared rows in the same order.
        return firstValues.sorted { $0.key < $1.key }.map(\.value)
    }

    /// A property row: its key, its value, the time and the request that writes it.
    typealias Row = (key: PropertyKey, value: PropertyValue, now: Int64, request: String)

    /// Inserts `values` (from ``firstValues(of:cache:)``) unless set.
    init(inserting values: [Row], in session: PostgresSession) throws {
        unclaimed = try PostgresTransaction.insertOnce(values, in: session)
    }

    /// Whether the batch's statement inserted the property and no earlier request of the batch claimed it.
    func claim(_ key: PropertyKey) -> Bool {
        unclaimed.remove(key) != nil
    }
}

/// One property of one profile, in any namespace, by its stored name (``Registration/storedName(of:)``).
struct PropertyKey: Hashable, Comparable {
    var workspace: String
    var version: String
    var distinctID: String
    var name: String

    /// What a statement returns to build one with ``init(row:)``.
    static let columns = "workspace, version, distinct_id, name"

    init(_ namespace: Namespace, _ distinctID: String, _ name: String) {
        (workspace, version, self.distinctID, self.name) = (namespace.workspace, namespace.version.rawValue, distinctID, name)
    }

    init(row: PostgresRow) throws {
        (workspace, version, distinctID, name) = try row.decode((String, String, String, String).self)
    }

    static func < (a: Self, b: Self) -> Bool {
        (a.workspace, a.version, a.distinctID, a.name) < (b.workspace, b.version, b.distinctID, b.name)
    }
}
