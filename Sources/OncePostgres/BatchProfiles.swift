import OnceEngine
import PostgresNIO

/// The profiles a batch creates, inserted by one statement before its requests
/// run. Each created profile is credited to the first request of the batch
/// that names it, as if the requests had run one by one.
final class BatchProfiles {
    private var unclaimed: Set<PropertyKey>
    /// Every profile the batch names, sorted.
    private let named: [PropertyKey]

    /// Inserts every profile the batch's elements create, unless it exists.
    init(creatingFor batch: [PreparedRequest], in session: PostgresSession) throws {
        var firstSeen: [PropertyKey: Int64] = [:]
        var named: Set<PropertyKey> = []
        for request in batch {
            for element in request.elements {
                let key = Self.key(element.distinctID, in: request.namespace)
                named.insert(key)
                if element.createsProfile && firstSeen[key] == nil { firstSeen[key] = request.receivedAt.epochMilliseconds }
            }
        }
        self.named = named.sorted()
        // One order for every process: two batches then lock shared profiles in the same order.
        let rows = firstSeen.sorted { $0.key < $1.key }
        let created = try session.insert(rows, head: Self.insertProfiles, tail: Self.returning) { row, first, binds in
            binds.append(row.key.workspace)
            binds.append(row.key.version)
            binds.append(row.key.distinctID)
            binds.append(row.value)
            return "($\(first), $\(first + 1), $\(first + 2), $\(first + 3), $\(first + 3))"
        }
        unclaimed = Set(try created.map(PropertyKey.init(row:)))
    }

    /// Locks every profile the batch names and did not create, in one order for
    /// every process. Every batch holds its profiles before it writes property
    /// rows, so property rows are only ever written under their profile's lock
    /// and two batches cannot deadlock on them.
    func lockTheOthers(in session: PostgresSession) throws {
        let others = named.filter { !unclaimed.contains($0) }
        try session.insert(others, head: Self.selectForUpdate, tail: Self.inOrder) { key, first, binds in
            binds.append(key.workspace)
            binds.append(key.version)
            binds.append(key.distinctID)
            return "($\(first), $\(first + 1), $\(first + 2))"
        }
    }

    /// Whether this batch created the profile and no earlier request of it has claimed that.
    func claim(_ distinctID: String, in namespace: Namespace) -> Bool {
        unclaimed.remove(Self.key(distinctID, in: namespace)) != nil
    }

    /// A profile's key: a ``PropertyKey`` with an empty name.
    private static func key(_ distinctID: String, in namespace: Namespace) -> PropertyKey {
        PropertyKey(namespace, distinctID, "")
    }

    private static let insertProfiles = "INSERT INTO profiles (workspace, version, distinct_id, created_at, updated_at) VALUES "
    private static let returning = " ON CONFLICT DO NOTHING RETURNING workspace, version, distinct_id, ''"
    private static let selectForUpdate = "SELECT 1 FROM profiles WHERE (workspace, version, distinct_id) IN (VALUES "
    /// Byte order, as Swift sorts `named`: chunks of one batch then lock in one order too.
    private static let inOrder = ") ORDER BY workspace COLLATE \"C\", version COLLATE \"C\", distinct_id COLLATE \"C\" FOR UPDATE"
}
