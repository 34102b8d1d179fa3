import OnceEngine
import PostgresNIO

/// The types a batch's requests look up, registered and read before any of them runs.
///
/// Registered request by request, two batches registering the same new names
/// in different orders each waited for a row the other held, until
/// PostgreSQL's deadlock detector (a second later) broke one — and under load
/// the retry often met the same fate. Up front and sorted, every batch takes
/// these rows in one order; the requests then find every type known and send
/// no type statement at all.
enum BatchTypes {
    /// The registration of every name the batch looks up and `cache` lacks,
    /// after registering each one's candidate (``RequestApplier/typeCandidates(in:)``).
    /// Two statements: under READ COMMITTED the read sees a registration that
    /// committed while the insert waited on it.
    static func register(for batch: [PreparedRequest], cache: TypeCache,
                         in session: PostgresSession) throws -> [PropertyName: Registration] {
        let wanted = RequestApplier.typeCandidates(in: batch)
            .filter { cache.registration(of: $0.key.name, in: $0.key.namespace) == nil }
            .map { (key: PropertyKey($0.key.namespace, "", $0.key.name), candidate: $0.value) }
            .sorted { $0.key < $1.key }
        guard let now = batch.first?.receivedAt.epochMilliseconds, !wanted.isEmpty else { return [:] }
        try session.insert(wanted.filter { $0.candidate != nil }, head: insertTypes, tail: " ON CONFLICT DO NOTHING") { row, first, binds in
            binds.append(row.key.workspace)
            binds.append(row.key.version)
            binds.append(row.key.name)
            binds.append(row.candidate!.rawValue)
            binds.append(now)
            return "($\(first), $\(first + 1), $\(first + 2), $\(first + 3), $\(first + 4))"
        }
        let rows = try session.insert(wanted, head: selectTypes, tail: ")") { row, first, binds in
            binds.append(row.key.workspace)
            binds.append(row.key.version)
            binds.append(row.key.name)
            return "($\(first), $\(first + 1), $\(first + 2))"
        }
        var registrations: [PropertyName: Registration] = [:]
        for row in rows {
            let (workspace, version, name, type, generation) = try row.decode((String, String, String, String, Int64).self)
            guard let version = Version(rawValue: version) else { continue }
            registrations[PropertyName(namespace: Namespace(workspace: workspace, version: version), name: name)] =
                Registration(type: try PropertyType(stored: type), generation: generation)
        }
        return registrations
    }

    private static let insertTypes = "INSERT INTO property_types (workspace, version, name, type, registered_at) VALUES "
    private static let selectTypes = """
        SELECT t.workspace, t.version, t.name, t.type, \(PostgresTransaction.generation) FROM property_types t
        \(PostgresTransaction.joinDrops) WHERE (t.workspace, t.version, t.name) IN (VALUES
        """
}
