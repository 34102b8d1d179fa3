import Foundation
import OnceEngine
import PostgresNIO

/// SPEC §8 on PostgreSQL: each query and count is one read-only transaction
/// on a pooled connection (never the writers'), under `statement_timeout`.
extension PostgresStore {
    public func page(_ body: QueryBody, in namespace: Namespace, timeout: Duration) async throws -> QueryPage {
        try await read(namespace, timeout: timeout, checking: { try body.query(in: namespace, types: $0) }) { connection, logger, names, query in
            var filter = PostgresFilter(names: names, namespace: query.namespace)
            let condition = filter.sql(query.filter)
            let after = filter.bind(query.after ?? "")
            let limit = filter.bind(Int64(query.fetchLimit))
            let rows = try await connection.query(PostgresQuery(unsafeSQL: """
                SELECT p.distinct_id, p.created_at, p.updated_at FROM profiles p
                WHERE p.workspace = $1 AND p.version = $2 AND p.distinct_id COLLATE "C" > \(after) AND \(condition)
                ORDER BY p.distinct_id COLLATE "C" LIMIT \(limit)
                """, binds: filter.binds), logger: logger).collect().map { try $0.decode((String, Int64, Int64).self) }
            var profiles = rows.map {
                Profile(distinctID: $0.0, properties: [], createdAt: Date(epochMilliseconds: $0.1), updatedAt: Date(epochMilliseconds: $0.2))
            }
            guard !profiles.isEmpty, query.properties != [] else { return QueryPage(fetched: profiles, limit: query.limit) }
            let index = Dictionary(uniqueKeysWithValues: profiles.enumerated().map { ($0.element.distinctID, $0.offset) })
            var binds = PostgresBindings()
            binds.append(query.namespace.workspace)
            binds.append(query.namespace.version.rawValue)
            binds.append(profiles.map(\.distinctID))
            // The current stored names only: a dropped generation's rows wait to be reclaimed.
            binds.append(names.filter { query.properties?.contains($0.key) ?? true }.map(\.value.stored))
            let values = try await connection.query(PostgresQuery(unsafeSQL: """
                SELECT distinct_id, name, \(PostgresValue.selectColumns) FROM properties
                WHERE workspace = $1 AND version = $2 AND distinct_id = ANY($3) AND name = ANY($4)
                """, binds: binds), logger: logger).collect()
            for row in values {
                let (distinctID, stored, type, text, number, fractional, instant, list) =
                    try row.decode((String, String, String, String?, String?, Bool?, Int64?, String?).self)
                guard let offset = index[distinctID] else { continue }
                profiles[offset].properties.append((Registration.propertyName(stored: stored),
                                                    try PostgresValue.read((type, text, number, fractional, instant, list))))
            }
            for offset in profiles.indices { profiles[offset].properties.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) } }
            return QueryPage(fetched: profiles, limit: query.limit)
        }
    }

    public func count(_ body: QueryBody, in namespace: Namespace, timeout: Duration) async throws -> Int {
        try await read(namespace, timeout: timeout, checking: { try body.countFilter(types: $0) }) { connection, logger, names, filter in
            var compiled = PostgresFilter(names: names, namespace: namespace)
            let condition = compiled.sql(filter)
            let count = try await connection.query(PostgresQuery(unsafeSQL: """
                SELECT count(*) FROM profiles p WHERE p.workspace = $1 AND p.version = $2 AND \(condition)
                """, binds: compiled.binds), logger: logger).collect().first?.decode(Int64.self) ?? 0
            return Int(count)
        }
    }

    /// The registered names of a namespace by name: the name its current generation's values are stored under, and the type.
    typealias Names = [String: (stored: String, type: PropertyType)]

    /// The namespace's registered names.
    private static func names(of namespace: Namespace, on connection: PostgresConnection, logger: Logger) async throws -> Names {
        let (workspace, version) = (namespace.workspace, namespace.version.rawValue)
        let rows = try await connection.query("""
            SELECT t.name, t.type, coalesce(d.drops, 0) FROM property_types t
            LEFT JOIN property_drops d ON d.workspace = t.workspace AND d.version = t.version AND d.name = t.name
            WHERE t.workspace = \(workspace) AND t.version = \(version)
            """, logger: logger).collect()
        var names: Names = [:]
        for row in rows {
            let (name, type, drops) = try row.decode((String, String, Int64).self)
            names[name] = (Registration.storedName(of: name, generation: drops), try PropertyType(stored: type))
        }
        return names
    }

    /// `run` in a read-only transaction, given the namespace's names and what
    /// `check` made of the body against their types. The server cancels `run`
    /// after `timeout` (SQLSTATE 57014, ``StoreError/queryTimeout``); reading
    /// the names and checking the body come first, so a bad body is a 400
    /// whatever the time limit.
    private func read<Checked, T: Sendable>(_ namespace: Namespace, timeout: Duration,
                                            checking check: @escaping @Sendable ([String: PropertyType]) throws -> Checked,
                                            _ run: @escaping @Sendable (PostgresConnection, Logger, Names, Checked) async throws -> T) async throws -> T {
        let milliseconds = max(1, timeout.nanoseconds / 1_000_000)
        return try await pooled(extraSeconds: Double(milliseconds) / 1000) { client, logger in
            try await client.withConnection { connection in
                _ = try await connection.query("BEGIN READ ONLY", logger: logger).collect()
                do {
                    let names = try await Self.names(of: namespace, on: connection, logger: logger)
                    let checked = try check(names.mapValues(\.type))
                    _ = try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(milliseconds)"), logger: logger).collect()
                    let result = try await run(connection, logger, names, checked)
                    _ = try await connection.query("COMMIT", logger: logger).collect()
                    return result
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger).collect()
                    throw error
                }
            }
        }
    }
}
