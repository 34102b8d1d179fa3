import Foundation
import GRDB

/// Storage v2: integer ids instead of text keys, laid out for short writes
/// and typed queries.
///
/// - `namespaces` and `property_names` give each namespace and each of its
///   property names a small integer id. A name carries its registered type,
///   so value rows hold none; dropping a property (SPEC §9) deletes its name
///   row, which hides every value under the old id at once, and the next
///   registration gets a new id (AUTOINCREMENT never reuses one).
/// - `profiles` numbers profiles in the order they are made (AUTOINCREMENT:
///   an erased profile's id is never given to another), so a new profile's
///   rows append to the end of both tables instead of landing on random pages.
/// - `properties` is keyed `(profile, name)`, clustered: one profile's values
///   sit together, in ~30-byte rows. `value` holds every type in one column
///   (``StoredValue``) so `properties_by_value (name, value)` serves equality,
///   `in` and ranges on strings, numbers, booleans and dates. `request` is
///   provenance: the id of the request that last changed the value.
/// - `requests` are keyed by their time-ordered id (new ones append) and hold
///   ``StoredRecord``'s compact results, which point at profiles by id.
///
/// Migration `v5` adds what SPEC §9 needs (``lifecycle``).
enum StorageV2 {
    static let tables = """
        CREATE TABLE namespaces (
            id INTEGER PRIMARY KEY,
            workspace TEXT NOT NULL,
            version TEXT NOT NULL,
            UNIQUE (workspace, version)
        );
        CREATE TABLE property_names (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace INTEGER NOT NULL,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            registered_at INTEGER NOT NULL
        );
        CREATE UNIQUE INDEX property_names_by_name ON property_names (namespace, name);
        CREATE TABLE profiles_v2 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace INTEGER NOT NULL,
            distinct_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        CREATE UNIQUE INDEX profiles_by_distinct_id ON profiles_v2 (namespace, distinct_id);
        CREATE TABLE properties_v2 (
            profile INTEGER NOT NULL,
            name INTEGER NOT NULL,
            value,
            text TEXT,
            updated_at INTEGER NOT NULL,
            request BLOB,
            PRIMARY KEY (profile, name)
        ) WITHOUT ROWID;
        CREATE TABLE requests_v2 (
            id BLOB NOT NULL PRIMARY KEY,
            namespace INTEGER NOT NULL,
            received_at INTEGER NOT NULL,
            results TEXT NOT NULL
        ) WITHOUT ROWID;
        """

    /// SPEC §9's lifecycle, added by migration `v5`:
    /// - `record_mentions`: the records that hold a distinct_id inline (an
    ///   `unset` of a profile that did not exist), so an erasure finds them
    ///   without a scan. Existing ones are listed by the migration.
    /// - `dropped_names`: the ids of dropped property names whose value rows
    ///   are still to be deleted in the background.
    /// - `store_state`'s `name_drops` counts drops, so every process sharing the
    ///   file learns at its next commit that its cached name ids are stale.
    /// - `legacy_requests_by_time`: records kept under random (version 4) ids,
    ///   from before ids were time-ordered, by time, so retention finds them.
    ///   Every newer id starts with its time and needs no index. (The partial
    ///   index's condition is checked on each insert; nothing is written for a new record.)
    static let lifecycle = """
        CREATE TABLE record_mentions (
            namespace INTEGER NOT NULL,
            distinct_id TEXT NOT NULL,
            request BLOB NOT NULL,
            PRIMARY KEY (namespace, distinct_id, request)
        ) WITHOUT ROWID;
        INSERT INTO record_mentions (namespace, distinct_id, request)
            SELECT DISTINCT r.namespace, json_extract(e.value, '$[0]'), r.id FROM requests r, json_each(r.results) e
            WHERE json_type(e.value, '$[0]') = 'text';
        CREATE TABLE dropped_names (id INTEGER PRIMARY KEY);
        CREATE TABLE store_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO store_state (key, value) VALUES ('name_drops', 0);
        CREATE INDEX legacy_requests_by_time ON requests (received_at) WHERE \(legacyRequest);
        """

    /// True of a record id that is not time-ordered (its version nibble is not 7).
    static let legacyRequest = "substr(hex(id), 13, 1) <> '7'"

    /// Records re-encoded between two progress lines.
    static let recordsPerStep = 50_000

    /// Copies storage v1's tables into v2's and drops them. Values migrated
    /// from v1 have no provenance (v1 did not keep it).
    static func migrate(_ db: Database, progress: (String) -> Void) throws {
        let counts = try ["profiles", "properties", "requests"].map { try Int.fetchOne(db, sql: "SELECT count(*) FROM \($0)") ?? 0 }
        // A new file passes through here too, with nothing to say.
        let progress = counts.allSatisfy { $0 == 0 } ? { _ in } : progress
        progress("migrating to storage v2: \(counts[0]) profiles, \(counts[1]) values, \(counts[2]) request records")
        try db.execute(sql: tables)
        try db.execute(sql: """
            INSERT INTO namespaces (workspace, version)
                SELECT workspace, version FROM property_types UNION SELECT workspace, version FROM profiles
                UNION SELECT workspace, version FROM requests ORDER BY 1, 2;
            INSERT INTO property_names (namespace, name, type, registered_at)
                SELECT n.id, t.name, t.type, t.registered_at FROM property_types t JOIN namespaces n USING (workspace, version)
                ORDER BY n.id, t.name;
            INSERT INTO profiles_v2 (namespace, distinct_id, created_at, updated_at)
                SELECT n.id, p.distinct_id, p.created_at, p.updated_at FROM profiles p JOIN namespaces n USING (workspace, version)
                ORDER BY p.created_at, n.id, p.distinct_id;
            INSERT INTO properties_v2 (profile, name, value, text, updated_at)
                SELECT pr.id, nm.id,
                    CASE v.type WHEN 'string' THEN v.text WHEN 'date' THEN v.instant WHEN 'list' THEN v.list ELSE v.number END,
                    CASE v.type WHEN 'date' THEN v.text END,
                    v.updated_at
                FROM properties v JOIN namespaces n USING (workspace, version)
                JOIN profiles_v2 pr ON pr.namespace = n.id AND pr.distinct_id = v.distinct_id
                JOIN property_names nm ON nm.namespace = n.id AND nm.name = v.name
                ORDER BY pr.id, nm.id;
            """)
        let copied = try Int.fetchOne(db, sql: "SELECT count(*) FROM properties_v2") ?? 0
        guard copied == counts[1] else {
            throw StoreError.corrupt("\(counts[1] - copied) stored values have no profile or registered type; nothing was migrated")
        }
        progress("migrating to storage v2: values copied; re-encoding request records")
        try migrateRecords(db, total: counts[2], progress: progress)
        try db.execute(sql: """
            DROP TABLE properties; DROP TABLE profiles; DROP TABLE requests; DROP TABLE property_types;
            ALTER TABLE profiles_v2 RENAME TO profiles;
            ALTER TABLE properties_v2 RENAME TO properties;
            ALTER TABLE requests_v2 RENAME TO requests;
            CREATE INDEX properties_by_value ON properties (name, value);
            """)
        progress("migrating to storage v2: done")
    }

    /// Each v1 record's JSON results in ``StoredRecord``'s form, its distinct_ids replaced by profile ids.
    private static func migrateRecords(_ db: Database, total: Int, progress: (String) -> Void) throws {
        let profile = try db.makeStatement(sql: "SELECT id FROM profiles_v2 WHERE namespace = ? AND distinct_id = ?")
        let insert = try db.makeStatement(sql: "INSERT INTO requests_v2 (id, namespace, received_at, results) VALUES (?, ?, ?, ?)")
        let rows = try Row.fetchCursor(db, sql: """
            SELECT r.id, n.id, r.received_at, r.results FROM requests r JOIN namespaces n USING (workspace, version)
            """)
        var done = 0
        while let row = try rows.next() {
            let text: String = row[0]
            guard let id = UUID(uuidString: text) else { throw StoreError.corrupt("request id \(text) is not a UUID") }
            let namespace: Int64 = row[1]
            let record = try RequestRecord(id: id, receivedAtMilliseconds: row[2], storedResults: row[3])
            var profiles: [String: JSON] = [:]
            // v1 wrote every entry's distinct_id (nothing was ever erased).
            for distinctID in record.results.compactMap(\.distinctID) where profiles[distinctID] == nil {
                profiles[distinctID] = try Int64.fetchOne(profile, arguments: [namespace, distinctID]).map(JSON.integer)
                    ?? .string(distinctID)
            }
            let results = StoredRecord.encode(record.results) { profiles[$0]! }
            try insert.execute(arguments: [id.blob, namespace, row[2] as Int64, String(decoding: results, as: UTF8.self)])
            done += 1
            if done % recordsPerStep == 0 { progress("migrating to storage v2: \(done) of \(total) request records") }
        }
    }
}
