import Foundation
import OnceEngine
import Testing

/// A migration (to storage v2, to storage v3) killed halfway leaves the file
/// as it was, and the next open migrates it whole.
@Suite struct MigrationInterruptionTests {
    /// More than one progress step of records (50,000).
    static let generated = 60_000

    @Test func aKilledMigrationRollsBackAndTheNextOpenFinishesIt() async throws {
        let directory = TemporaryDirectory()
        let fixture = try StorageFixture.copy(to: directory)
        // Grow the old file until its migration takes a while: profiles with a value each, and a record each.
        try sqlite(fixture.database, """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(Self.generated))
            INSERT INTO profiles SELECT 'FY12345678', 'live', 'gen-' || i, 1000, 1000 FROM n;
            INSERT INTO properties SELECT 'FY12345678', 'live', distinct_id, 'plan', 'string', 'p' || substr(distinct_id, 5), NULL, NULL, NULL, 1000
                FROM profiles WHERE distinct_id LIKE 'gen-%';
            INSERT INTO requests SELECT 'FY12345678', 'live', printf('%08x-0000-7000-8000-%012x', i, i), 1000,
                '[{"distinct_id":"' || distinct_id || '","op":"set_once","properties":{"plan":{"outcome":"set"}}}]'
                FROM (SELECT CAST(substr(distinct_id, 5) AS INTEGER) AS i, distinct_id FROM profiles WHERE distinct_id LIKE 'gen-%');
            """)

        let seen = try await killMigration(of: fixture.database, at: "migrating to storage v2:", in: directory)
        #expect(seen.first?.contains("migrating to storage v2: \(Self.generated + 4) profiles") == true, "\(seen)")

        // Rolled back: still the old schema, every old row there.
        #expect(try sqlite(fixture.database, "SELECT count(*) FROM grdb_migrations WHERE identifier LIKE 'v4%'") == "0")
        #expect(try sqlite(fixture.database, "SELECT count(*) FROM requests") == "\(Self.generated + 5)")
        #expect(try sqlite(fixture.database, "SELECT count(*) FROM property_types") == "12")
        #expect(try sqlite(fixture.database, "SELECT count(*) FROM properties") == "\(Self.generated + 12)")

        let finished = try await OncedBinary.run(["apply", "--db", fixture.database, "--rules", directory.path("no-rules")])
        #expect(finished.status == 0, "\(finished.stderr)")
        #expect(finished.stderr.contains("migrating to storage v2: done"), "\(finished.stderr)")
        #expect(finished.stderr.contains("50000 of \(Self.generated + 5) request records"), "\(finished.stderr)")
        #expect(try sqlite(fixture.database, "SELECT count(*) FROM requests") == "\(Self.generated + 5)")
        #expect(try sqlite(fixture.database, "SELECT count(*) FROM profiles") == "\(Self.generated + 4)")

        // Every generated profile, value and record reads back through the daemon (whose
        // retention would delete the generated records at once: they are dated 1970).
        let daemon = try await Daemon.start(arguments: ["--record-retention", "0"], directory: directory, store: ["--db", fixture.database])
        let base = "/v1/\(Daemon.workspace)/live"
        for index in [1, Self.generated / 2, Self.generated] {
            let profile = try await daemon.get("\(base)/profiles/gen-\(index)", key: fixture.key)
            #expect(profile.json?["properties"]?.objectValue?["plan"] == .string("p\(index)"), "\(profile.body)")
        }
        // The generated ids sort before the fixture's own (00000001-… < 019a…): the 77th is gen-77's.
        let hex = try sqlite(fixture.database, "SELECT lower(hex(id)) FROM requests ORDER BY id LIMIT 1 OFFSET 76")
        let uuid = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(hex.dropFirst($0.lowerBound).prefix($0.count)) }
            .joined(separator: "-")
        let record = try await daemon.get("\(base)/requests/\(uuid)", key: fixture.key)
        #expect(record.status == 200, "\(record.body)")
        guard case .array(let results)? = record.json?["results"] else { Issue.record("no results: \(record.body)"); return }
        let entry = results.first?.objectValue
        #expect(entry?["distinct_id"] == .string("gen-77") && entry?["op"] == .string("set_once"), "\(record.body)")
        #expect(entry?["properties"]?.objectValue?["plan"]?.objectValue?["outcome"] == .string("set"), "\(record.body)")
    }

    /// Storage v3's migration (v6) killed while it packs values: the file keeps
    /// storage v2's rows, and the next open packs them all.
    @Test func aKilledPackingRollsBackAndTheNextOpenFinishesIt() async throws {
        // Packing 200,000 takes most of a second: the kill lands well inside it.
        let generated = 200_000
        let directory = TemporaryDirectory()
        let fixture = try StorageFixture.copy("storage-v5", to: directory)
        let before = try sqlite(fixture.database, "SELECT count(*) FROM properties")
        // Profiles of FY12345678/live (namespace 1) with a `plan` (name 1) each, in storage v2's layout.
        try sqlite(fixture.database, """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(generated))
            INSERT INTO profiles (namespace, distinct_id, created_at, updated_at) SELECT 1, 'gen-' || i, 1000, 1000 FROM n;
            INSERT INTO properties (profile, name, value, updated_at)
                SELECT id, 1, 'p' || substr(distinct_id, 5), 1000 FROM profiles WHERE distinct_id LIKE 'gen-%';
            """)
        let values = Int(before)! + generated

        let seen = try await killMigration(of: fixture.database, at: "migrating to storage v3:", in: directory)
        #expect(seen.last?.contains("migrating to storage v3: \(values) values to pack") == true, "\(seen)")

        // Rolled back: storage v2 still, every value in `properties`, no blob column.
        #expect(try sqlite(fixture.database, "SELECT count(*) FROM grdb_migrations WHERE identifier LIKE 'v6%'") == "0")
        #expect(try sqlite(fixture.database, "SELECT count(*) FROM properties") == "\(values)")
        #expect(try sqlite(fixture.database, "SELECT count(*) FROM pragma_table_info('profiles') WHERE name = 'props'") == "0")

        let finished = try await OncedBinary.run(["apply", "--db", fixture.database, "--rules", directory.path("no-rules")])
        #expect(finished.status == 0, "\(finished.stderr)")
        #expect(finished.stderr.contains("migrating to storage v3: 50000 profiles packed"), "\(finished.stderr)")
        #expect(finished.stderr.contains("migrating to storage v3: done"), "\(finished.stderr)")
        #expect(try sqlite(fixture.database, "SELECT count(*) FROM property_values") == "\(values)")

        // The packed values read back, and their index rows answer a query.
        let daemon = try await Daemon.start(directory: directory, store: ["--db", fixture.database])
        let base = "/v1/\(Daemon.workspace)/live"
        for index in [1, generated / 2, generated] {
            let profile = try await daemon.get("\(base)/profiles/gen-\(index)", key: fixture.key)
            #expect(profile.json?["properties"]?.objectValue?["plan"] == .string("p\(index)"), "\(profile.body)")
        }
        let count = try await daemon.post("\(base)/profiles/count", #"{"where": {"property": "plan", "op": "starts_with", "value": "p1"}}"#,
                                          key: fixture.key)
        // p1, p10–p19, …, p100000–p199999: 111,111 of the generated.
        #expect(count.json?["count"] == .integer(111_111), "\(count.body)")
    }

    /// A new file passes through every migration, silently.
    @Test func aNewFileSaysNothingOfMigrating() async throws {
        let directory = TemporaryDirectory()
        let run = try await OncedBinary.run(["apply", "--db", directory.path("new.db")], directory: URL(fileURLWithPath: directory.path("")))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stderr.contains("migrating"), "\(run.stderr)")
    }

    /// Starts `onced apply` on `database` (with no rules) and kills it at its
    /// first line containing `marker`, when that migration has only begun: a
    /// later line left too short a window on a loaded machine (the migration
    /// committed before the kill landed). The lines it printed.
    func killMigration(of database: String, at marker: String, in directory: TemporaryDirectory) async throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory.path("no-rules"), withIntermediateDirectories: true)
        let killed = try ChildProcess(OncedBinary.url.path, ["apply", "--db", database, "--rules", directory.path("no-rules")],
                                      directory: directory.path(""), stdin: .pipe, stdout: .null, stderr: .pipe)
        let progress = LineInput(killed.errors!)
        var seen: [String] = []
        while let line = try await offload({ try progress.next(within: .seconds(120)) }) {
            seen.append(line)
            if line.contains(marker) { break }
        }
        killed.send(SIGKILL)
        _ = try await killed.exit(within: .seconds(30))
        return seen
    }

    /// Runs SQL with the `sqlite3` shell; its output, trimmed.
    @discardableResult
    func sqlite(_ database: String, _ sql: String) throws -> String {
        let run = try ChildProcess("/usr/bin/sqlite3", [database], stdin: .pipe, stdout: .pipe, stderr: .pipe).run(input: Data(sql.utf8))
        guard run.status == 0 else { throw TestSetupError("sqlite3 failed: \(String(decoding: run.stderr, as: UTF8.self))") }
        return String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
