import GRDB

/// The SQLite schema, as versioned migrations applied at open. Each runs in
/// one transaction: an interrupted migration rolls back whole and runs again
/// at the next open.
///
/// `v1`–`v3` are storage v1 (text keys in every row); ``StorageV2`` is what
/// the file holds after `v4` and `v5`, ``StorageV3`` after `v6`.
enum SQLiteSchema {
    /// `progress` hears the steps of a long migration.
    static func migrator(progress: (@Sendable (String) -> Void)? = nil) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE profiles (
                    workspace TEXT NOT NULL,
                    version TEXT NOT NULL,
                    distinct_id TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    PRIMARY KEY (workspace, version, distinct_id)
                ) WITHOUT ROWID;

                CREATE TABLE properties (
                    workspace TEXT NOT NULL,
                    version TEXT NOT NULL,
                    distinct_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    type TEXT NOT NULL,
                    text TEXT,
                    number,
                    instant INTEGER,
                    list TEXT,
                    updated_at INTEGER NOT NULL,
                    PRIMARY KEY (workspace, version, distinct_id, name)
                ) WITHOUT ROWID;

                CREATE TABLE property_types (
                    workspace TEXT NOT NULL,
                    version TEXT NOT NULL,
                    name TEXT NOT NULL,
                    type TEXT NOT NULL,
                    registered_at INTEGER NOT NULL,
                    PRIMARY KEY (workspace, version, name)
                ) WITHOUT ROWID;

                CREATE TABLE requests (
                    workspace TEXT NOT NULL,
                    version TEXT NOT NULL,
                    id TEXT NOT NULL,
                    received_at INTEGER NOT NULL,
                    results TEXT NOT NULL,
                    PRIMARY KEY (workspace, version, id)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2: api keys") { db in
            try db.execute(sql: """
                CREATE TABLE api_keys (
                    key_hash TEXT NOT NULL PRIMARY KEY,
                    workspace TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        // Keys written before ids existed get one derived from their hash (which reveals nothing of the key).
        migrator.registerMigration("v3: key ids and revocation") { db in
            try db.execute(sql: """
                ALTER TABLE api_keys ADD COLUMN id TEXT;
                ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;
                UPDATE api_keys SET id = 'key_' || substr(key_hash, 1, 16);
                CREATE UNIQUE INDEX api_keys_by_id ON api_keys (id);
                """)
        }
        migrator.registerMigration("v4: storage v2") { db in
            try StorageV2.migrate(db, progress: progress ?? { _ in })
        }
        migrator.registerMigration("v5: erasure, dropped properties, retention") { db in
            try db.execute(sql: StorageV2.lifecycle)
        }
        migrator.registerMigration("v6: storage v3") { db in
            try StorageV3.migrate(db, progress: progress ?? { _ in })
        }
        return migrator
    }
}
