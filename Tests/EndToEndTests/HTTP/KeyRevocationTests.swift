import Foundation
import OnceEngine
import Testing

/// SPEC §5: keys have ids, are listed without themselves, and once revoked are
/// refused by every process sharing the store within 5 seconds.
@Suite(.serialized) struct KeyRevocationTests {
    static let path = "/v1/\(Daemon.workspace)/live/profiles/properties/set"

    func create(_ dataSet: TestDataSet) async throws -> (key: String, id: String) {
        let create = try await OncedBinary.run(["keys", "create", Daemon.workspace] + dataSet.arguments)
        #expect(create.status == 0, "\(create.stderr)")
        let lines = create.lines
        try #require(lines.count == 2, "\(create.stdout)")
        return (lines[0], lines[1])
    }

    @Test(arguments: TestDataSet.Kind.allCases)
    func aRevokedKeyIsRefusedByEveryProcessWithinFiveSeconds(store: TestDataSet.Kind) async throws {
        let directory = TemporaryDirectory()
        let dataSet = try await TestDataSet.fresh(store, in: directory)
        let (key, id) = try await create(dataSet)
        let (otherKey, otherID) = try await create(dataSet)
        #expect(id.hasPrefix("key_") && otherID.hasPrefix("key_") && id != otherID)

        let list = try await OncedBinary.run(["keys", "list", Daemon.workspace] + dataSet.arguments)
        #expect(list.status == 0)
        #expect(list.lines.map { String($0.prefix(while: { $0 != " " })) } == [id, otherID])
        #expect(!list.stdout.contains(key) && !list.stdout.contains(APIKey.hash(key)), "a listing shows neither key nor hash")
        #expect(try await OncedBinary.run(["keys", "list", Daemon.otherWorkspace] + dataSet.arguments).stdout.isEmpty)

        // Two daemons on the one store, each having already verified the key.
        let first = try await Daemon.start(directory: directory, store: dataSet.arguments)
        let second = try await Daemon.start(directory: directory, store: dataSet.arguments)
        let body = #"{"$set": {"a": 1}, "distinct_id": "k"}"#
        for daemon in [first, second] { #expect(try await daemon.post(Self.path, body, key: key).status == 202) }

        let revoke = try await OncedBinary.run(["keys", "revoke", id] + dataSet.arguments)
        #expect(revoke.status == 0, "\(revoke.stderr)")
        let revokedAt = ContinuousClock.now
        for daemon in [first, second] {
            var status = 202
            while status != 401 && ContinuousClock.now - revokedAt < .seconds(5) {
                status = try await daemon.post(Self.path, body, key: key).status
                if status != 401 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(status == 401, "the revoked key still works after 5 s")
            #expect(try await daemon.post(Self.path, body, key: otherKey).status == 202, "another key of the workspace works on")
        }
        let listed = try await OncedBinary.run(["keys", "list", Daemon.workspace] + dataSet.arguments)
        #expect(listed.lines.first?.contains(" revoked ") == true && listed.lines.last?.contains("revoked") == false)

        let again = try await OncedBinary.run(["keys", "revoke", id] + dataSet.arguments)
        #expect(again.status == 0, "revoking twice is no error")
        let unknown = try await OncedBinary.run(["keys", "revoke", "key_0000000000000000"] + dataSet.arguments)
        #expect(unknown.status != 0 && unknown.stderr.contains("no key has the id key_0000000000000000"))
    }

    /// A database written before key ids existed keeps its key, which gets an id.
    @Test func aKeyFromTheVersionBeforeIdsKeepsWorking() async throws {
        let directory = TemporaryDirectory()
        let fixture = try StorageFixture.copy(to: directory)
        let list = try await OncedBinary.run(["keys", "list", Daemon.workspace, "--db", fixture.database])
        #expect(list.status == 0, "\(list.stderr)")
        let id = try #require(list.lines.first?.split(separator: " ").first.map(String.init))
        #expect(id == "key_" + APIKey.hash(fixture.key).prefix(16))
        let daemon = try await Daemon.start(directory: directory, store: ["--db", fixture.database])
        #expect(try await daemon.get("/v1/\(Daemon.workspace)/live/profiles/ada@example.com", key: fixture.key).status == 200)
        try await daemon.kill()
        #expect(try await OncedBinary.run(["keys", "revoke", id, "--db", fixture.database]).status == 0)
        let restarted = try await Daemon.start(directory: directory, store: ["--db", fixture.database])
        #expect(try await restarted.get("/v1/\(Daemon.workspace)/live/profiles/ada@example.com", key: fixture.key).status == 401)
    }
}
