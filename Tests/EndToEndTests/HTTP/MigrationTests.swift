import Foundation
import OnceEngine
import OncePostgres
import Testing
import TestSupport

/// A database written by the previous release opens under this one, migrates in
/// place, and keeps every value, type, record and key.
@Suite struct MigrationTests {
    @Test func theVersionBeforeKeepsEveryValueTypeRecordAndKey() async throws {
        let directory = TemporaryDirectory()
        let fixture = try StorageFixture.copy(to: directory)
        let daemon = try await Daemon.start(directory: directory, store: ["--db", fixture.database])
        let base = "/v1/\(Daemon.workspace)/live"

        let profile = try await daemon.get("\(base)/profiles/ada@example.com", key: fixture.key)
        #expect(profile.status == 200, "\(profile.body)")
        let properties = try #require(profile.json?["properties"]?.objectValue)
        let expected: [(String, JSON)] = [
            ("plan", .string("pro")), ("signup_date", .string("2020-10-01")), ("seats", .integer(23000)),
            ("ltv", .decimal(20.34)), ("beta", .bool(true)), ("tags", .array([.string("a"), .string("b")])),
            ("seen", .array([.string("2020-10-01T18:30:00Z"), .integer(5)])), ("city", .string("Pune")),
            ("credits", .decimal(-2.5)),
        ]
        for (name, value) in expected { #expect(properties[name] == value, "\(name)") }
        #expect(properties.members.count == expected.count)

        let encoded = try await daemon.get("\(base)/profiles/Ada%20Lovelace%2B1%40ex%C3%A4mple.com", key: fixture.key)
        #expect(encoded.json?["properties"]?.objectValue?["nick"] == .string("ada"))
        #expect(try await daemon.get("/v1/\(Daemon.workspace)/test/profiles/t1", key: fixture.key).json?["properties"]?
            .objectValue?["plan"] == .integer(1))
        #expect(try await daemon.get("/v1/\(Daemon.otherWorkspace)/live/profiles/other", key: Daemon.otherKey).json?["properties"]?
            .objectValue?["tags"] == .array([.string("x")]))

        let types = try await daemon.get("\(base)/properties", key: fixture.key).json?["properties"]?.objectValue
        #expect(types?["signup_date"] == .string("date") && types?["plan"] == .string("string") && types?["seen"] == .string("list"))

        // Each request's record, as the old release printed it.
        for line in fixture.outcomes {
            let outcome = try parseOutput(line)
            let id = try #require(outcome["request_id"]?.stringValue)
            let namespace = line.contains("\"t1\"") ? "/v1/\(Daemon.workspace)/test"
                : line.contains("\"other\"") ? "/v1/\(Daemon.otherWorkspace)/live" : base
            let key = line.contains("\"other\"") ? Daemon.otherKey : fixture.key
            let record = try await daemon.get("\(namespace)/requests/\(id)", key: key)
            #expect(record.status == 200, "\(id): \(record.body)")
            #expect(record.json?["results"] == outcome["results"], "\(id)")
        }

        // And it takes new writes.
        let write = try await daemon.post("\(base)/profiles/properties/set-once",
                                          #"{"$once": {"plan": "free", "fresh": 1}, "distinct_id": "ada@example.com"}"#, key: fixture.key)
        #expect(write.status == 202)
        let after = try await daemon.get("\(base)/profiles/ada@example.com", key: fixture.key).json?["properties"]?.objectValue
        #expect(after?["plan"] == .string("pro") && after?["fresh"] == .integer(1))
    }

    /// The last release of storage v1: every read answers as it did, every
    /// record (rule outcomes and an unset of a profile that never existed
    /// included) reads back, and its revoked key stays revoked.
    @Test func theLastReleaseOfStorageV1ReadsBackTheSame() async throws {
        let (daemon, fixture) = try await Self.daemon(on: "storage-v3")
        try await Self.expectTheSameAnswers(from: daemon, as: fixture)
    }

    /// The last release before migration v5 (erasure, dropped properties,
    /// retention): the same answers, and then what v5 adds works on the old
    /// data — provenance the old release wrote, and the erasure of a profile
    /// whose distinct_id an old record holds inline.
    @Test func theLastReleaseBeforeLifecycleReadsBackTheSameAndCanForget() async throws {
        let (daemon, fixture) = try await Self.daemon(on: "storage-v4")
        try await Self.expectTheSameAnswers(from: daemon, as: fixture)
        let base = "/v1/\(Daemon.workspace)/live"
        let outcomes = try fixture.outcomes.map(parseOutput)

        let ada = try await daemon.get("\(base)/profiles/ada@example.com?provenance=true", key: fixture.key)
        let provenance = try #require(ada.json?["provenance"]?.objectValue)
        #expect(provenance["plan"]?.objectValue?["request_id"] == outcomes[0]["request_id"])
        #expect(provenance["plan"]?.objectValue?["op"] == .string("set_once"))
        #expect(provenance["city"]?.objectValue?["request_id"] == outcomes[1]["request_id"])
        #expect(provenance["email"]?.objectValue?["rule"] != nil, "a renamed property names its rule: \(provenance)")

        let unset = try #require(outcomes[10]["request_id"]?.stringValue)
        func unsetTarget() async throws -> JSON? {
            guard case .array(let entries)? = try await daemon.get("\(base)/requests/\(unset)", key: fixture.key).json?["results"] else { return nil }
            return entries.first?.objectValue?["distinct_id"]
        }
        #expect(try await unsetTarget() == .string("ghost@example.com"))
        let erased = try await daemon.request("DELETE", "\(base)/profiles/ghost%40example.com", key: fixture.key)
        #expect(erased.status == 202, "\(erased.body)")
        #expect(try await daemon.get("\(base)/profiles/ghost%40example.com", key: fixture.key).status == 404)
        #expect(try await unsetTarget() == .null)
        for file in [fixture.database, fixture.database + "-wal"] {
            let bytes = FileManager.default.contents(atPath: file) ?? Data()
            #expect(bytes.range(of: Data("ghost@example.com".utf8)) == nil, "\(file) still holds the erased distinct_id")
        }
    }

    /// The last release of storage v2: the same answers, provenance included,
    /// with every value moved into its profile's row; and then the values
    /// still answer queries, take writes of every kind, and go with an erasure.
    @Test func theLastReleaseOfStorageV2ReadsBackTheSameWithItsValuesInline() async throws {
        let (daemon, fixture) = try await Self.daemon(on: "storage-v5")
        try await Self.expectTheSameAnswers(from: daemon, as: fixture)
        let base = "/v1/\(Daemon.workspace)/live"
        func query(_ filter: String) async throws -> [String] {
            let answer = try await daemon.post("\(base)/profiles/query", #"{"where": \#(filter)}"#, key: fixture.key)
            guard case .array(let profiles)? = answer.json?["profiles"] else { throw TestSetupError("no profiles: \(answer.body)") }
            return profiles.compactMap { $0.objectValue?["distinct_id"]?.stringValue }
        }
        #expect(try await query(#"{"property": "plan", "op": "eq", "value": "pro"}"#) == ["ada@example.com"])
        #expect(try await query(#"{"property": "tags", "op": "contains", "value": "a"}"#) == ["ada@example.com"])
        #expect(try await query(#"{"and": [{"property": "plan", "op": "is_set"}, {"property": "seats", "op": "gt", "value": 100}]}"#)
                == ["ada@example.com"])

        let write = try await daemon.post("\(base)/profiles/properties/set", #"{"$set": {"plan": "team"}, "distinct_id": "ada@example.com"}"#,
                                          key: fixture.key)
        #expect(write.status == 202, "\(write.body)")
        #expect(try await query(#"{"property": "plan", "op": "eq", "value": "pro"}"#) == [])
        #expect(try await query(#"{"property": "plan", "op": "eq", "value": "team"}"#) == ["ada@example.com"])
        let erased = try await daemon.request("DELETE", "\(base)/profiles/ada%40example.com", key: fixture.key)
        #expect(erased.status == 202, "\(erased.body)")
        #expect(try await query(#"{"property": "plan", "op": "is_set"}"#).contains("ada@example.com") == false)
        #expect(try await query(#"{"property": "tags", "op": "contains", "value": "a"}"#) == [])
    }

    /// A PostgreSQL database of the last release before PostgreSQL migration 4:
    /// the same answers, and a drop of a property it wrote hides the old values
    /// at once, lets the name register anew, and has its rows deleted later.
    @Test func postgresOfTheLastReleaseReadsBackTheSameAndDropsInTheBackground() async throws {
        let directory = TemporaryDirectory()
        let fixture = try await StorageFixture.restore("postgres-v3")
        let daemon = try await Self.daemon(on: fixture, in: directory)
        try await Self.expectTheSameAnswers(from: daemon, as: fixture)
        let base = "/v1/\(Daemon.workspace)/live"
        let url = try PostgresURL(fixture.database)
        let holders = try await TestPostgres.integer("SELECT count(*) FROM properties WHERE name = 'plan'", on: url)
        #expect(holders > 1)

        let drop = try await daemon.request("DELETE", "\(base)/properties/plan", key: fixture.key)
        #expect(drop.status == 202, "\(drop.body)")
        #expect(try await daemon.get("\(base)/profiles/ada@example.com", key: fixture.key).json?["properties"]?.objectValue?["plan"] == nil)
        let write = try await daemon.post("\(base)/profiles/properties/set-once",
                                          #"{"$once": {"plan": 5}, "distinct_id": "ada@example.com"}"#, key: fixture.key)
        #expect(write.status == 202, "\(write.body)")
        #expect(try await daemon.get("\(base)/profiles/ada@example.com", key: fixture.key).json?["properties"]?.objectValue?["plan"] == .integer(5))
        #expect(try await daemon.get("\(base)/properties", key: fixture.key).json?["properties"]?.objectValue?["plan"] == .string("number"))

        // The daemon reclaims every second; a minute is far more than a few rows take.
        var left = Int64.max
        for _ in 0..<600 where left > 0 {
            left = try await TestPostgres.integer("SELECT count(*) FROM stale_properties", on: url)
            if left > 0 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(left == 0)
        #expect(try await TestPostgres.integer("SELECT count(*) FROM properties WHERE name = 'plan'", on: url) == 0)
        #expect(try await daemon.get("\(base)/profiles/ada@example.com", key: fixture.key).json?["properties"]?.objectValue?["plan"] == .integer(5))
    }

    static let otherKey = "other-key"

    /// A daemon on a copy of the fixture `name`, the other workspace's key being `otherKey` (as when it was written).
    static func daemon(on name: String) async throws -> (Daemon, StorageFixture) {
        let directory = TemporaryDirectory()
        let fixture = try StorageFixture.copy(name, to: directory)
        return (try await daemon(on: fixture, in: directory), fixture)
    }

    static func daemon(on fixture: StorageFixture, in directory: TemporaryDirectory) async throws -> Daemon {
        try await Daemon.start(arguments: ["--api-key", "\(Daemon.otherWorkspace):\(otherKey)"], directory: directory, store: fixture.store)
    }

    /// Every read of the fixture's `reads.jsonl` answers as the old release
    /// did, every record reads back as it printed it, and its revoked key stays revoked.
    static func expectTheSameAnswers(from daemon: Daemon, as fixture: StorageFixture) async throws {
        func key(for path: String) -> String { path.contains(Daemon.otherWorkspace) ? otherKey : fixture.key }
        for line in try fixture.lines("reads.jsonl") {
            let read = try parseOutput(line)
            let path = try #require(read["path"]?.stringValue)
            let answer = try await daemon.get(path, key: key(for: path))
            #expect(.integer(Int64(answer.status)) == read["status"], "\(path): \(answer.body)")
            if let body = read["body"], body != .null { #expect(answer.json.map(JSON.object) == body, "\(path)") }
        }
        for (line, outcome) in zip(try fixture.lines("lines.jsonl"), fixture.outcomes) {
            let sent = try parseOutput(line)
            let printed = try parseOutput(outcome)
            let path = "/v1/\(sent["workspace"]!.stringValue!)/\(sent["version"]!.stringValue!)/requests/\(printed["request_id"]!.stringValue!)"
            let record = try await daemon.get(path, key: key(for: path))
            #expect(record.status == 200, "\(path): \(record.body)")
            #expect(record.json?["results"] == printed["results"], "\(path)")
        }
        let revoked = try String(contentsOf: fixture.directory.appendingPathComponent("revoked-key.txt"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await daemon.get("/v1/\(Daemon.workspace)/live/properties", key: revoked).status == 401)
        let keys = try await OncedBinary.run(["keys", "list", Daemon.workspace] + fixture.store)
        #expect(keys.lines.count == 2 && keys.lines.filter { $0.contains("revoked") }.count == 1, "\(keys.stdout)")
    }
}
