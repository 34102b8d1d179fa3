import Foundation
import GRDB
import OncePostgres
import Testing
import TestSupport
@testable import OnceEngine

/// SPEC §9 against every store: erasure, dropping a property, provenance, record retention.
@Suite struct LifecycleTests {
    let namespace = TestEngine.namespace

    @Test(arguments: StoreKind.allCases)
    func erasingAProfileLeavesNoTrace(store: StoreKind) async throws {
        let test = try await TestEngine(store)
        let engine = test.engine
        let first = try await test.submit(#"{"$once": {"plan": "pro", "email": "ada@example.com"}}"#, distinctID: "ada")
        let both = try await engine.submit(WriteRequest(namespace: namespace, elements: [
            try RequestDecoder.element(distinctID: "ada", opsIn: try JSONParser.parse(#"{"$set": {"city": "Pune"}}"#).objectValue!),
            try RequestDecoder.element(distinctID: "bob", opsIn: try JSONParser.parse(#"{"$set": {"city": "Oslo"}}"#).objectValue!),
        ]))
        // An unset of a profile that does not exist yet keeps its distinct_id in the record.
        let ghostUnset = try await test.submit(#"{"$unset": ["plan"]}"#, distinctID: "ghost")
        try await test.submit(#"{"$set": {"plan": "free"}}"#, distinctID: "ghost")

        let erasure = try await engine.deleteProfile("ada", in: namespace)
        #expect(erasure.lifecycle == LifecycleResult(kind: .delete, changed: true))
        #expect(erasure.results.isEmpty)
        #expect(try await engine.profile("ada", in: namespace) == nil)
        #expect(try await engine.profile("bob", in: namespace)?["city"] == .string("Oslo"))
        if store != .memory {
            let stored = try #require(try await engine.record(erasure.id, in: namespace))
            #expect(stored.json.objectValue?["results"] == .array([.object(JSONObject([
                .init("distinct_id", .null), .init("op", .string("delete")), .init("outcome", .string("deleted")),
            ]))]))
        }
        let firstAfter = try #require(try await engine.record(first.id, in: namespace))
        #expect(firstAfter.results.map(\.distinctID) == [nil])
        #expect(firstAfter.results[0].properties == first.results[0].properties)  // the rest of the entry stays
        let bothAfter = try #require(try await engine.record(both.id, in: namespace))
        #expect(bothAfter.results.map(\.distinctID) == [nil, "bob"])

        #expect(try await engine.record(ghostUnset.id, in: namespace)?.results.map(\.distinctID) == ["ghost"])
        #expect(try await engine.deleteProfile("ghost", in: namespace).lifecycle?.changed == true)
        #expect(try await engine.record(ghostUnset.id, in: namespace)?.results.map(\.distinctID) == [nil])

        let again = try await engine.deleteProfile("ada", in: namespace)
        #expect(again.lifecycle == LifecycleResult(kind: .delete, changed: false))
        // A later write makes a new, empty profile.
        try await test.submit(#"{"$once": {"seats": 3}}"#, distinctID: "ada")
        let reborn = try #require(try await engine.profile("ada", in: namespace))
        #expect(reborn.properties.map(\.name) == ["seats"])
        #expect(reborn.createdAt >= erasure.receivedAt.addingTimeInterval(-0.001))
        try await engine.close()
    }

    @Test(arguments: StoreKind.allCases)
    func droppingAPropertyUnregistersItsType(store: StoreKind) async throws {
        let test = try await TestEngine(store)
        let engine = test.engine
        try await test.submit(#"{"$once": {"plan": "pro", "seats": 2}}"#, distinctID: "a")
        try await test.submit(#"{"$once": {"plan": "free"}}"#, distinctID: "b")
        try await test.submit(#"{"$once": {"plan": "x"}}"#, distinctID: "c", namespace: Namespace(workspace: "FY12345678", version: .test))

        let drop = try await engine.dropProperty("plan", in: namespace)
        #expect(drop.lifecycle == LifecycleResult(kind: .dropProperty, property: "plan", changed: true))
        #expect(try await engine.profile("a", in: namespace)?.properties.map(\.name) == ["seats"])
        #expect(try await engine.profile("b", in: namespace)?.properties.isEmpty == true)
        #expect(try await engine.registeredTypes(in: namespace) == ["seats": .number])
        // The other version of the workspace is another namespace: untouched.
        #expect(try await engine.profile("c", in: Namespace(workspace: "FY12345678", version: .test))?["plan"] == .string("x"))

        // The next valid value registers a type anew, and set-once finds the property unset.
        #expect(try await test.outcomes(#"{"$once": {"plan": 5}}"#, distinctID: "a") == ["plan": .set])
        #expect(try await engine.registeredTypes(in: namespace)["plan"] == .number)
        #expect(try await engine.profile("a", in: namespace)?["plan"] == .integer(5))
        #expect(try await engine.profile("b", in: namespace)?["plan"] == nil)
        #expect(try await engine.dropProperty("never", in: namespace).lifecycle?.changed == false)
        if store != .memory {
            #expect(try await engine.record(drop.id, in: namespace)?.json.objectValue?["results"] == .array([.object(JSONObject([
                .init("op", .string("drop_property")), .init("property", .string("plan")), .init("outcome", .string("dropped")),
            ]))]))
        }
        try await engine.close()
    }

    /// One SQLite batch (one transaction, its requests in order) that writes a
    /// property, drops it and registers it anew leaves what the same requests
    /// one at a time would: the first value gone, the new type, and later
    /// writes under the new name. (PostgreSQL spreads a batch over writers by
    /// profile, in no order across them.)
    @Test func aDropInsideABatchLeavesTheCacheTheNewName() async throws {
        let test = try await TestEngine(.sqlite)
        let engine = test.engine
        func write(_ body: String, _ id: String) async throws -> OnceEngine.PreparedRequest {
            let element = try RequestDecoder.element(distinctID: id, opsIn: try JSONParser.parse(body).objectValue!)
            return try await engine.prepare(WriteRequest(namespace: namespace, elements: [element]))
        }
        let batch = await engine.store.apply(contentsOf: [  // the batch registers plan first: its cache learns it here
            try await write(#"{"$once": {"plan": "free"}}"#, "b"),
            OnceEngine.PreparedRequest(namespace: namespace, lifecycle: .dropProperty("plan")),
            try await write(#"{"$once": {"plan": 5}}"#, "c"),
        ])
        #expect(try batch.map { try $0.get().propertyResults.first?.outcome } == [Outcome.set, nil, Outcome.set])
        #expect(try await test.outcomes(#"{"$set": {"plan": 6}}"#, distinctID: "d") == ["plan": .set])
        #expect(try await test.outcomes(#"{"$once": {"plan": "x"}}"#, distinctID: "e") == ["plan": .ignoredTypeMismatch])
        #expect(try await engine.registeredTypes(in: namespace) == ["plan": .number])
        #expect(try await test.value("plan", of: "d") == .integer(6))
        #expect(try await test.value("plan", of: "c") == .integer(5))
        #expect(try await test.profile("b")?.properties.isEmpty == true)
        try await engine.close()
    }

    /// A second process sharing the store learns of the drop at its next write:
    /// its cached type and id must not outlive the property.
    @Test(arguments: StoreKind.shared)
    func aDropIsSeenByEveryProcess(store: StoreKind) async throws {
        let test = try await TestEngine(store)
        let other = Engine(store: store == .sqlite ? try SQLiteStore(path: test.dbPath) : try await test.dataSet!.open())
        func once(_ engine: Engine, _ body: String, _ id: String) async throws -> Outcome? {
            let element = try RequestDecoder.element(distinctID: id, opsIn: try JSONParser.parse(body).objectValue!)
            return try await engine.submit(WriteRequest(namespace: namespace, elements: [element])).propertyResults.first?.outcome
        }
        #expect(try await once(other, #"{"$once": {"plan": "pro"}}"#, "a") == .set)  // `other` caches plan: string
        _ = try await test.engine.dropProperty("plan", in: namespace)
        #expect(try await once(other, #"{"$once": {"plan": 7}}"#, "a") == .set)
        #expect(try await test.engine.registeredTypes(in: namespace) == ["plan": .number])
        #expect(try await test.engine.profile("a", in: namespace)?["plan"] == .integer(7))
        try await other.close()
        try await test.engine.close()
    }

    @Test(arguments: StoreKind.shared)
    func provenanceNamesTheRequestThatLastChangedEachValue(store: StoreKind) async throws {
        let test = try await TestEngine(store)
        let engine = test.engine
        let first = try await test.submit(#"{"$once": {"plan": "pro"}, "$set": {"city": "Pune"}}"#)
        let second = try await test.submit(#"{"$once": {"plan": "free"}, "$add": {"credits": 2}}"#)  // plan unchanged
        let third = try await test.submit(#"{"$set": {"city": "Pune"}, "$append": {"tags": "a"}}"#)  // city unchanged
        let profile = try #require(try await engine.profile("user-1", in: namespace))
        let changes = Dictionary(uniqueKeysWithValues: try await engine.lastChanges(of: profile, in: namespace).map { ($0.name, $0.change) })
        #expect(changes["plan"] == LastChange(requestID: first.id, op: .setOnce, at: first.receivedAt.truncatedToMilliseconds))
        #expect(changes["city"] == LastChange(requestID: first.id, op: .set, at: first.receivedAt.truncatedToMilliseconds))
        #expect(changes["credits"] == LastChange(requestID: second.id, op: .add, at: second.receivedAt.truncatedToMilliseconds))
        #expect(changes["tags"] == LastChange(requestID: third.id, op: .append, at: third.receivedAt.truncatedToMilliseconds))

        // Once the record has expired, the id still says when; the op went with the record.
        #expect(try await engine.store.deleteRecords(receivedBefore: Date().addingTimeInterval(60), limit: 100) == 3)
        let later = try await engine.lastChanges(of: profile, in: namespace).first { $0.name == "plan" }?.change
        #expect(later == LastChange(requestID: first.id, op: nil, at: first.receivedAt.truncatedToMilliseconds))
        try await engine.close()
    }

    @Test(arguments: StoreKind.allCases)
    func expiredRecordsGoInSteps(store: StoreKind) async throws {
        let test = try await TestEngine(store)
        let engine = test.engine
        let old = Date().addingTimeInterval(-40 * 86_400)
        var oldIDs: [UUID] = []
        for index in 0..<5 {
            let element = try RequestDecoder.element(distinctID: "u\(index)", opsIn: try JSONParser.parse(#"{"$set": {"p": 1}}"#).objectValue!)
            let at = old.addingTimeInterval(Double(index))
            oldIDs.append(try await engine.submit(WriteRequest(id: .timeOrdered(at: at), namespace: namespace, receivedAt: at, elements: [element])).id)
        }
        let recent = try await test.submit(#"{"$set": {"p": 2}}"#)
        let maintenance = StoreMaintenance(store: engine.store, recordRetention: .seconds(30 * 86_400))
        var stepped = maintenance
        stepped.rowsPerStep = 2
        try await stepped.runOnce()
        for id in oldIDs { #expect(try await engine.record(id, in: namespace) == nil) }
        #expect(try await engine.record(recent.id, in: namespace) != nil)
        #expect(try await engine.profile("u0", in: namespace)?["p"] == .integer(1))  // profiles stay
        try await engine.close()
    }

    /// Records written before ids were time-ordered (random ids, kept by files
    /// that migrated) expire by their time too.
    @Test func recordsUnderRandomIDsExpire() async throws {
        let test = try await TestEngine(.sqlite)
        let engine = test.engine
        let old = Date().addingTimeInterval(-40 * 86_400)
        let element = try RequestDecoder.element(distinctID: "u", opsIn: try JSONParser.parse(#"{"$set": {"p": 1}}"#).objectValue!)
        var random = UUID()
        while random.uuidString.prefix(2) == "00" { random = UUID() }  // above any time-ordered bound
        _ = try await engine.submit(WriteRequest(id: random, namespace: namespace, receivedAt: old, elements: [element]))
        let young = UUID()
        _ = try await engine.submit(WriteRequest(id: young, namespace: namespace, elements: [element]))
        #expect(try await engine.store.deleteRecords(receivedBefore: Date().addingTimeInterval(-86_400), limit: 10) == 1)
        #expect(try await engine.record(random, in: namespace) == nil)
        #expect(try await engine.record(young, in: namespace) != nil)
        try await engine.close()
    }

    /// The rows of a dropped property are invisible at once and deleted later,
    /// a step at a time, sparing the values written under the name since.
    @Test(arguments: StoreKind.shared)
    func droppedRowsAreReclaimedInSteps(store: StoreKind) async throws {
        let test = try await TestEngine(store)
        let engine = test.engine
        for index in 0..<25 { try await test.submit(#"{"$once": {"plan": "p\#(index)", "seats": 1}}"#, distinctID: "u\(index)") }
        _ = try await engine.dropProperty("plan", in: namespace)
        try await test.submit(#"{"$once": {"plan": 5}}"#, distinctID: "u0")
        func rows() async throws -> Int {
            if let url = test.dataSet?.postgresURL {
                return Int(try await TestPostgres.integer("SELECT count(*) FROM properties", on: try PostgresURL(url)))
            }
            let queue = try DatabaseQueue(path: test.dbPath)
            defer { try? queue.close() }
            return try await queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM property_values")! }
        }
        #expect(try await rows() == 51)
        var maintenance = StoreMaintenance(store: engine.store, recordRetention: nil)
        maintenance.rowsPerStep = 10
        #expect(try await engine.store.reclaimDroppedValues(limit: 10))
        #expect(try await rows() == 41)
        try await maintenance.runOnce()
        #expect(try await rows() == 26)
        #expect(try await engine.store.reclaimDroppedValues(limit: 10) == false)
        #expect(try await engine.profile("u3", in: namespace)?.properties.map(\.name) == ["seats"])
        #expect(try await engine.profile("u0", in: namespace)?["plan"] == .integer(5))

        // The second generation goes the same way.
        _ = try await engine.dropProperty("plan", in: namespace)
        #expect(try await engine.profile("u0", in: namespace)?.properties.map(\.name) == ["seats"])
        try await maintenance.runOnce()
        #expect(try await rows() == 25)
        try await engine.close()
    }

    /// On SQLite an erased profile's distinct_id and values leave the files' bytes.
    @Test func erasureLeavesNoBytesInTheFiles() async throws {
        let test = try await TestEngine(.sqlite)
        let engine = test.engine
        let secretID = "erase-me-7f3a9c@example.com", secretValue = "secret-value-91c2d4"
        for index in 0..<200 { try await test.submit(#"{"$once": {"plan": "pro", "n": \#(index)}}"#, distinctID: "keep-\(index)") }
        try await test.submit(#"{"$unset": ["nick"]}"#, distinctID: secretID)  // inline in a record
        try await test.submit(#"{"$once": {"nick": "\#(secretValue)", "plan": "pro"}, "$append": {"tags": "\#(secretValue)-tag"}}"#,
                              distinctID: secretID)
        try await test.submit(#"{"$set": {"nick": "\#(secretValue)-2"}}"#, distinctID: secretID)  // an overwritten value
        let files = [test.dbPath, test.dbPath + "-wal"]
        func found(_ text: String) throws -> Bool {
            try files.contains { path in
                guard let bytes = FileManager.default.contents(atPath: path) else { return false }
                return bytes.range(of: Data(text.utf8)) != nil
            }
        }
        #expect(try found(secretID) && found(secretValue))
        _ = try await engine.deleteProfile(secretID, in: namespace)
        #expect(try !found(secretID), "the distinct_id is still in the files")
        #expect(try !found(secretValue), "a value is still in the files")
        #expect(try await engine.profile("keep-7", in: namespace)?["n"] == .integer(7))
        try await engine.close()
        #expect(try !found(secretID) && !found(secretValue))
    }
}

extension Date {
    /// As stores keep times: whole milliseconds.
    var truncatedToMilliseconds: Date { Date(epochMilliseconds: epochMilliseconds) }
}
