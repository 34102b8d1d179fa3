import Foundation

/// The PostgreSQL schema, as numbered migrations applied at start-up.
///
/// Portable on purpose: plain tables, `text`/`bigint`/`numeric`/`jsonb`, no
/// extensions, triggers, functions, sequences or advisory locks, so the same
/// statements run on CockroachDB, YugabyteDB and Citus. Every primary key
/// starts with the namespace and (for profile data) the distinct_id, so one
/// profile's rows stay together and the keys spread over a cluster's ranges.
/// On Citus, distribute `profiles` and `properties` by `distinct_id`
/// (co-located) and `property_types`, `requests` by `workspace`; `api_keys`
/// is a reference table (README, "Scaling out").
enum PostgresSchema {
    struct Migration {
        var version: Int
        var name: String
        var statements: [String]
    }

    /// Records which migrations ran. A process that starts a migration first
    /// inserts its row; another process starting at the same moment waits on
    /// that row's lock, then finds it taken and skips the migration.
    static let ledger = """
        CREATE TABLE IF NOT EXISTS onced_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            applied_at bigint NOT NULL
        )
        """

    static let migrations: [Migration] = [
        Migration(version: 1, name: "profiles, properties, types, requests, api keys", statements: [
            """
            CREATE TABLE profiles (
                workspace text NOT NULL,
                version text NOT NULL,
                distinct_id text NOT NULL,
                created_at bigint NOT NULL,
                updated_at bigint NOT NULL,
                PRIMARY KEY (workspace, version, distinct_id)
            )
            """,
            """
            CREATE TABLE properties (
                workspace text NOT NULL,
                version text NOT NULL,
                distinct_id text NOT NULL,
                name text NOT NULL,
                type text NOT NULL,
                text text,
                number numeric,
                fractional boolean,
                instant bigint,
                list jsonb,
                list_keys jsonb,
                updated_at bigint NOT NULL,
                PRIMARY KEY (workspace, version, distinct_id, name)
            )
            """,
            """
            CREATE TABLE property_types (
                workspace text NOT NULL,
                version text NOT NULL,
                name text NOT NULL,
                type text NOT NULL,
                registered_at bigint NOT NULL,
                PRIMARY KEY (workspace, version, name)
            )
            """,
            """
            CREATE TABLE requests (
                workspace text NOT NULL,
                version text NOT NULL,
                id text NOT NULL,
                received_at bigint NOT NULL,
                results text NOT NULL,
                PRIMARY KEY (workspace, version, id)
            )
            """,
            """
            CREATE TABLE api_keys (
                key_hash text PRIMARY KEY,
                workspace text NOT NULL,
                created_at bigint NOT NULL
            )
            """,
        ]),
        // Keys written before ids existed get one derived from their hash (which reveals nothing of the key).
        Migration(version: 2, name: "key ids and revocation", statements: [
            "ALTER TABLE api_keys ADD COLUMN id text",
            "ALTER TABLE api_keys ADD COLUMN revoked_at bigint",
            "UPDATE api_keys SET id = 'key_' || substr(key_hash, 1, 16)",
            "CREATE UNIQUE INDEX api_keys_by_id ON api_keys (id)",
        ]),
        // SPEC §9: the request that last changed each value; records found by age for retention;
        // a count of dropped properties, so every process learns its cached types are stale.
        Migration(version: 3, name: "provenance, retention, dropped properties", statements: [
            "ALTER TABLE properties ADD COLUMN request text",
            "CREATE INDEX requests_by_time ON requests (received_at)",
            "CREATE TABLE onced_state (key text PRIMARY KEY, value bigint NOT NULL)",
            "INSERT INTO onced_state (key, value) VALUES ('type_drops', 0)",
        ]),
        // SPEC §9 without a long transaction: how often each name was dropped (its values'
        // generation, ``Registration``), and the stored names whose rows wait to be deleted,
        // each with the distinct_id up to which they are gone.
        Migration(version: 4, name: "dropped properties reclaimed in the background", statements: [
            """
            CREATE TABLE property_drops (
                workspace text NOT NULL,
                version text NOT NULL,
                name text NOT NULL,
                drops bigint NOT NULL,
                PRIMARY KEY (workspace, version, name)
            )
            """,
            """
            CREATE TABLE stale_properties (
                workspace text NOT NULL,
                version text NOT NULL,
                stored_name text NOT NULL,
                reclaimed_to text NOT NULL DEFAULT '',
                PRIMARY KEY (workspace, version, stored_name)
            )
            """,
        ]),
        // SPEC §8: conditions on strings, numbers and dates as range scans of one index each
        // (PostgresFilter). Each row is in one of them (a date in the instant index only).
        // Built in the migration's transaction: on a large table, writes wait for the build.
        Migration(version: 5, name: "value indexes for cohort queries", statements: [
            #"CREATE INDEX IF NOT EXISTS properties_by_text ON properties (workspace, version, name, text COLLATE "C") WHERE type = 'string'"#,
            "CREATE INDEX IF NOT EXISTS properties_by_number ON properties (workspace, version, name, number) WHERE number IS NOT NULL",
            "CREATE INDEX IF NOT EXISTS properties_by_instant ON properties (workspace, version, name, instant) WHERE instant IS NOT NULL",
        ]),
    ]

    /// Applies every migration this database lacks, each in its own transaction.
    static func migrate(_ session: PostgresSession) throws {
        do {
            try session.run(ledger)
        } catch let failure as PostgresFailure where failure.kind == .statement {
            try session.run(ledger)  // two processes raced to create the ledger; it exists now
        }
        for migration in migrations {
            try session.run("BEGIN")
            do {
                let claimed = try session.run(
                    "INSERT INTO onced_migrations (version, name, applied_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    migration.version, migration.name, Int64(Date().timeIntervalSince1970 * 1000))
                if claimed.metadata.rows == 1 {
                    for statement in migration.statements { try session.run(statement) }
                }
                try session.run("COMMIT")
            } catch {
                session.rollback()
                throw error
            }
        }
    }
}
