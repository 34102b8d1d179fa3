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

        let firstLine = "onced: migrating to storage v2: \(Self.generated + 4) profiles, \(Self.generated + 12) values, "
            + "\(Self.generated + 5) request records\n"
        #expect(try await killMigration(of: fixture.database, after: firstLine, in: directory) == firstLine)

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

    /// Storage v3's migration (v6) killed while it packs values (at its line
    /// "50000 profiles packed"): the file keeps storage v2's rows, and the next
    /// open packs them all.
    @Test func aKilledPackingRollsBackAndTheNextOpenFinishesIt() async throws {
        let generated = 100_000
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
        let firstLine = "onced: migrating to storage v3: \(values) values to pack into their profiles\n"

        #expect(try await killMigration(of: fixture.database, after: firstLine, in: directory) == firstLine)

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
        // p1, p10–p19, …, p10000–p19999, p100000: 11,112 of the generated.
        #expect(count.json?["count"] == .integer(11_112), "\(count.body)")
    }

    /// A new file passes through every migration, silently.
    @Test func aNewFileSaysNothingOfMigrating() async throws {
        let directory = TemporaryDirectory()
        let run = try await OncedBinary.run(["apply", "--db", directory.path("new.db")], directory: URL(fileURLWithPath: directory.path("")))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stderr.contains("migrating"), "\(run.stderr)")
    }

    /// Runs `onced apply` on `database` (with no rules), its stderr a pipe with
    /// room for `firstLine` only, so that its next line, and with it the commit
    /// of the migration that printed both, waits; kills it there, once it has
    /// stopped using CPU. What it printed. (Killed when its first line was read
    /// instead, a migration on a loaded machine committed before the kill landed.)
    func killMigration(of database: String, after firstLine: String, in directory: TemporaryDirectory) async throws -> String {
        let stderr = try FilledPipe(room: firstLine.utf8.count)
        try FileManager.default.createDirectory(atPath: directory.path("no-rules"), withIntermediateDirectories: true)
        let killed = try ChildProcess(OncedBinary.url.path, ["apply", "--db", database, "--rules", directory.path("no-rules")],
                                      directory: directory.path(""), stdin: .pipe, stdout: .null, stderr: .descriptor(stderr.writeEnd))
        let deadline = ContinuousClock.now + .seconds(120)
        while !stderr.isFull, killed.isRunning {
            try #require(ContinuousClock.now < deadline, "the migration never printed its first line")
            try await Task.sleep(for: .milliseconds(20))
        }
        var cpu = killed.cpuTicks
        repeat {
            try await Task.sleep(for: .milliseconds(300))
            let now = killed.cpuTicks
            if now == cpu { break }
            cpu = now
        } while ContinuousClock.now < deadline
        #expect(killed.isRunning, "the migration ended before the kill")
        killed.send(SIGKILL)
        _ = try await killed.exit(within: .seconds(30))
        return stderr.written()
    }

    /// Runs SQL with the `sqlite3` shell; its output, trimmed.
    @discardableResult
    func sqlite(_ database: String, _ sql: String) throws -> String {
        let run = try ChildProcess("/usr/bin/sqlite3", [database], stdin: .pipe, stdout: .pipe, stderr: .pipe).run(input: Data(sql.utf8))
        guard run.status == 0 else { throw TestSetupError("sqlite3 failed: \(String(decoding: run.stderr, as: UTF8.self))") }
        return String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
