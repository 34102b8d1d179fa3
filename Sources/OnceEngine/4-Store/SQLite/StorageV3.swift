import Foundation
import GRDB
import GRDBSQLite

/// Storage v3: a profile's values inline in its row, and only the index
/// rows apart.
///
/// Storage v2 wrote each value twice, as a `properties` row keyed
/// `(profile, name)` and again in `properties_by_value`; a set-once of five
/// values on a new profile cost SQLite eleven B-tree inserts. Here it costs
/// seven: the profile row, whose `props` blob holds every value with its
/// provenance (``PackedValues``), five `property_values` rows, and the
/// request record. `property_values (name, value, profile)` is what storage
/// v2's index was, so SPEC §8's conditions keep their plans; a query that
/// tests one profile's value reads it from the blob (`onced_value`). Each
/// entry of a blob has exactly one `property_values` row, which is how an
/// erasure, an edit and the reclaim of a dropped name find the rows to delete.
enum StorageV3 {
    static let tables = """
        ALTER TABLE profiles ADD COLUMN props BLOB;
        CREATE TABLE property_values (
            name INTEGER NOT NULL,
            value,
            profile INTEGER NOT NULL,
            PRIMARY KEY (name, value, profile)
        ) WITHOUT ROWID;
        """

    /// Profiles packed between two progress lines.
    static let profilesPerStep = 50_000

    /// Packs storage v2's `properties` rows into their profiles and drops the
    /// table. Rows of dropped names not yet reclaimed are not carried over.
    static func migrate(_ db: Database, progress: (String) -> Void) throws {
        let values = try Int.fetchOne(db, sql: "SELECT count(*) FROM properties") ?? 0
        let progress = values == 0 ? { _ in } : progress
        progress("migrating to storage v3: \(values) values to pack into their profiles")
        try db.execute(sql: tables)
        let rows = try db.makeStatement(sql: """
            SELECT v.profile, v.name, n.type, v.value, v.text, v.updated_at, v.request
            FROM properties v JOIN property_names n ON n.id = v.name ORDER BY v.profile, v.name
            """)
        let update = try db.makeStatement(sql: "UPDATE profiles SET props = ? WHERE id = ?")
        let index = try db.makeStatement(sql: "INSERT INTO property_values (name, value, profile) VALUES (?, ?, ?)")
        var profile: Int64?
        var packed = PackedValues()
        var done = 0
        func flush() throws {
            guard let id = profile else { return }
            try packed.bytes.withUnsafeBytes { blob in
                try SQLiteBinder.run(update, in: db) { $0.bytes(blob, asText: false); $0.integer(id) }
            }
            try packed.forEach { entry in
                try SQLiteBinder.run(index, in: db) { binder in
                    binder.integer(entry.name)
                    packed.bind(entry, to: &binder)
                    binder.integer(id)
                }
            }
            done += 1
            if done % profilesPerStep == 0 { progress("migrating to storage v3: \(done) profiles packed") }
        }
        try SQLiteBinder.forEachRow(rows, in: db, { _ in }) { row in
            let id = sqlite3_column_int64(row, 0)
            if id != profile {
                try flush()
                profile = id
                packed = PackedValues()
            }
            let type = try PropertyType(stored: StoredValue.text(row, 2))
            let value = try StoredValue.value(of: type, in: row, at: 3)
            let request = sqlite3_column_blob(row, 6).flatMap { UUID(blob: Data(bytes: $0, count: Int(sqlite3_column_bytes(row, 6)))) }
            packed.append(sqlite3_column_int64(row, 1), value, updatedAt: sqlite3_column_int64(row, 5), request: request)
        }
        try flush()
        try db.execute(sql: "DROP TABLE properties; DELETE FROM dropped_names")
        progress("migrating to storage v3: done, \(done) profiles")
    }
}
