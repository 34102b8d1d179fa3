import GRDB

/// The SQLite schema, as versioned migrations applied at open.
///
/// Values are kept queryable by type for cohort queries: `text` holds strings
/// and date texts, `number` numbers (declared without a type so SQLite keeps
/// INTEGER and REAL apart — the written form) and booleans as 0/1, `instant`
/// a date's microseconds since the epoch, `list` a list as JSON. Primary keys
/// start with the namespace and distinct_id, clustered (WITHOUT ROWID), so
/// one profile's rows sit together.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
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
        return migrator
    }
}
