import Foundation
import TestSupport

/// A database written by an earlier release, with the outcomes and the key it
/// printed (each fixture's README says how it was made): `storage-v1`, the
/// release before key ids, `storage-v3`, the last release of storage v1, and
/// `storage-v4`, the last release before migration v5 (SPEC §9's lifecycle);
/// and `postgres-v3`, a PostgreSQL database (as `pg_dump` wrote it) of the last
/// release before PostgreSQL migration 4 (dropped properties reclaimed later).
struct StorageFixture {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fixtures").standardized

    /// The copy's path (its URL on PostgreSQL): tests never change the committed file.
    var database: String
    /// How `onced` opens the copy.
    var store: [String]
    /// The persistent key it holds, for FY12345678.
    var key: String
    /// The outcome lines `onced apply` printed when it was written.
    var outcomes: [String]

    /// Where the fixture's other files are.
    var directory: URL

    static func copy(_ name: String = "storage-v1", to temporary: TemporaryDirectory) throws -> StorageFixture {
        let directory = fixtures.appendingPathComponent(name)
        let database = temporary.path("onced.db")
        try FileManager.default.copyItem(atPath: directory.appendingPathComponent("onced.db").path, toPath: database)
        return try StorageFixture(database: database, store: ["--db", database], directory: directory)
    }

    /// A new database on the test server, loaded from the fixture's `dump.sql` by `psql`.
    static func restore(_ name: String) async throws -> StorageFixture {
        let directory = fixtures.appendingPathComponent(name)
        let url = try await TestPostgres.newDatabase()
        let bin = ProcessInfo.processInfo.environment["ONCED_TEST_PG_BINDIR"] ?? "/usr/bin"
        let psql = try ChildProcess(bin + "/psql", ["-q", "-v", "ON_ERROR_STOP=1", "-f", directory.appendingPathComponent("dump.sql").path, url],
                                    stdout: .pipe, stderr: .pipe).run()
        guard psql.status == 0 else {
            throw TestSetupError("psql could not load \(name)/dump.sql: \(String(decoding: psql.stderr, as: UTF8.self))")
        }
        return try StorageFixture(database: url, store: ["--postgres", url], directory: directory)
    }

    private init(database: String, store: [String], directory: URL) throws {
        func text(_ name: String) throws -> String {
            try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
        }
        self.database = database
        self.store = store
        self.key = try text("key.txt").trimmingCharacters(in: .whitespacesAndNewlines)
        self.outcomes = try text("outcomes.jsonl").split(separator: "\n").map(String.init)
        self.directory = directory
    }
}

extension StorageFixture {
    /// One line of the fixture's file `name` per element.
    func lines(_ name: String) throws -> [String] {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8).split(separator: "\n").map(String.init)
    }
}
