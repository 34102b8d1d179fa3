import Foundation
import OnceEngine
import Testing

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
        let directory = TemporaryDirectory()
        let fixture = try StorageFixture.copy("storage-v3", to: directory)
        let otherKey = "other-key"
        let daemon = try await Daemon.start(arguments: ["--api-key", "\(Daemon.otherWorkspace):\(otherKey)"],
                                            directory: directory, store: ["--db", fixture.database])
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
        let keys = try await OncedBinary.run(["keys", "list", Daemon.workspace, "--db", fixture.database])
        #expect(keys.lines.count == 2 && keys.lines.filter { $0.contains("revoked") }.count == 1, "\(keys.stdout)")
    }
}

