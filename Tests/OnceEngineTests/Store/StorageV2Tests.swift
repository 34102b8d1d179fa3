import Foundation
import GRDB
import Testing
@testable import OnceEngine

/// What storage v2 keeps beside the values, read from the file itself.
@Suite struct StorageV2Tests {
    /// The 16-byte request id each stored value names, by property name.
    static func provenance(in path: String) throws -> [String: String] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            let names = try Row.fetchAll(db, sql: "SELECT id, name FROM property_names").reduce(into: [Int64: String]()) { $0[$1[0]] = $1[1] }
            var provenance: [String: String] = [:]
            for blob in try Data.fetchAll(db, sql: "SELECT props FROM profiles WHERE props IS NOT NULL") {
                let values = try blob.withUnsafeBytes { try PackedValues(blob: $0) }
                values.forEach { entry in
                    if let name = names[entry.name], let request = values.request(entry) { provenance[name] = hex(request) }
                }
            }
            return provenance
        }
    }

    static func hex(_ id: UUID) -> String { id.lowercaseString.replacingOccurrences(of: "-", with: "") }

    /// Provenance is the request that last changed a value: an unchanged set-once leaves it as it was.
    @Test func eachValueNamesTheRequestThatLastChangedIt() async throws {
        let store = try await TestEngine()
        let first = try await store.submit(#"{"$once": {"plan": "pro", "seats": 1}, "$set": {"city": "Pune"}}"#)
        let second = try await store.submit(#"{"$once": {"plan": "free"}, "$add": {"seats": 2}, "$set": {"city": "Pune"}}"#)
        try await store.engine.close()
        let provenance = try Self.provenance(in: store.dbPath)
        #expect(provenance["plan"] == Self.hex(first.id))  // set-once found it set
        #expect(provenance["seats"] == Self.hex(second.id))  // added to
        #expect(provenance["city"] == Self.hex(first.id))  // set to the value it already held
    }

    /// A new profile's set-once stores what an existing one's would, past one
    /// insert's 32 index rows, and when an earlier element of the same request wrote the profile.
    @Test func aNewProfileStoresWhatAnExistingOneWould() async throws {
        let store = try await TestEngine()
        let many = (0..<40).map { #""p\#($0)": \#($0)"# }.joined(separator: ", ")
        let wide = try await store.submit(#"{"$once": {\#(many)}}"#, distinctID: "wide")
        #expect(wide.propertyResults.allSatisfy { $0.outcome == .set } && wide.propertyResults.count == 40)
        let again = try await store.submit(#"{"$once": {\#(many), "q": 1}}"#, distinctID: "wide")
        #expect(again.propertyResults.map(\.outcome) == Array(repeating: .unchanged, count: 40) + [.set])
        let element = try RequestDecoder.element(distinctID: "twice", opsIn: JSONParser.parse(#"{"$once": {"x": 1}}"#).objectValue!)
        var twice = try await store.engine.submit(WriteRequest(namespace: TestEngine.namespace, elements: [element, element]))
        #expect(twice.propertyResults.map(\.outcome) == [.set, .unchanged])
        twice = try await store.engine.submit(WriteRequest(namespace: TestEngine.namespace, elements: [element]))
        #expect(twice.propertyResults.map(\.outcome) == [.unchanged])
        #expect(try await store.value("p39", of: "wide") == .integer(39))
    }

    /// GET and a query's page read values through the C API: every type, escapes and non-ASCII text, and a
    /// projection read back as written; a value of the wrong SQLite type is a named error, not a crash.
    @Test func valuesReadBackAsWrittenAndACorruptOneIsAnError() async throws {
        let store = try await TestEngine()
        try await store.submit(#"""
            {"$set": {"name": "a\"b\u0001 é😀", "seats": 3, "score": 100.0, "beta": false,
                      "signup": "2024-02-29T12:00:00+01:00", "tags": ["x", 2, 0.5, "2024-01-01"]}}
            """#)
        let profile = try #require(try await store.profile())
        #expect(profile.properties.map(\.name) == ["beta", "name", "score", "seats", "signup", "tags"])
        #expect(profile["name"] == .string("a\"b\u{1} é😀"))
        #expect(profile["score"] == .decimal(100))
        #expect(profile["signup"] == .date(try #require(ISODate(parsing: "2024-02-29T12:00:00+01:00"))))
        #expect(profile["tags"] == .list([.string("x"), .integer(2), .decimal(0.5), .date(try #require(ISODate(parsing: "2024-01-01")))]))
        let page = try await store.engine.query(JSONParser.parse(#"{"where": {"property": "seats", "op": "eq", "value": 3}}"#),
                                                in: TestEngine.namespace, timeout: .seconds(10))
        #expect(page.profiles.map(\.properties.count) == [6])
        #expect(page.profiles.first.map { $0.properties.elementsEqual(profile.properties) { $0.name == $1.name && $0.value == $1.value } } == true)
        let projected = try await store.engine.query(JSONParser.parse(#"{"where": {"property": "beta", "op": "eq", "value": false}, "properties": ["tags", "beta"]}"#),
                                                     in: TestEngine.namespace, timeout: .seconds(10))
        #expect(projected.profiles.first?.properties.map(\.name) == ["beta", "tags"])
        try await store.engine.close()

        let queue = try DatabaseQueue(path: store.dbPath)
        try await queue.write { db in
            try db.execute(sql: "UPDATE property_names SET type = 'string' WHERE name = 'seats'")
        }
        let reopened = try Engine(sqlitePath: store.dbPath)
        await #expect { try await reopened.profile("user-1", in: TestEngine.namespace) } throws: { error in
            "\(error)".contains("a string property holds a value tagged integer")
        }
        try await reopened.close()
        // A blob cut short is an error too.
        try await queue.write { db in try db.execute(sql: "UPDATE profiles SET props = substr(props, 1, length(props) - 3)") }
        try queue.close()
        let cut = try Engine(sqlitePath: store.dbPath)
        await #expect { try await cut.profile("user-1", in: TestEngine.namespace) } throws: { error in
            "\(error)".contains("end early")
        }
        try await cut.close()
    }

    /// The stored form of a record is a file format: these bytes must read back the same in every later release.
    @Test func theStoredRecordFormatIsPinned() throws {
        let results = [OpResult(distinctID: "u", op: .setOnce, properties: [
            PropertyResult(name: "a", outcome: .set),
            PropertyResult(name: "b", outcome: .ignoredTypeMismatch, reason: "why"),
            PropertyResult(name: "c", outcome: .rejectedByRule, rule: "r"),
            PropertyResult(name: "d", outcome: .unset),
        ]), OpResult(distinctID: "gone", op: .unset, properties: [PropertyResult(name: "e", outcome: .unchanged)])]
        let stored = String(decoding: StoredRecord.encode(results) { $0 == "u" ? .integer(7) : .string($0) }, as: UTF8.self)
        #expect(stored == #"[[7,"set_once",[["a",0],["b",2,"why"],["c",4,null,"r"],["d",6]]],["gone","unset",[["e",1]]]]"#)
        guard case .ops(let decoded) = try StoredRecord.decode(stored, distinctID: { $0 == 7 ? "u" : nil }) else {
            Issue.record("an op record read back as a lifecycle entry")
            return
        }
        #expect(decoded == results)
        // Profile 7 erased: its entry reads as null, the rest unchanged.
        guard case .ops(let erased) = try StoredRecord.decode(stored, distinctID: { _ in nil }) else { return }
        #expect(erased.map(\.distinctID) == [nil, "gone"])
        #expect(erased.map(\.properties) == results.map(\.properties))
        #expect(String(decoding: try StoredRecord.erasing("gone", from: stored), as: UTF8.self)
                == #"[[7,"set_once",[["a",0],["b",2,"why"],["c",4,null,"r"],["d",6]]],[null,"unset",[["e",1]]]]"#)
    }

    @Test func theStoredLifecycleEntriesArePinned() throws {
        let delete = String(decoding: StoredRecord.encode(LifecycleResult(kind: .delete, changed: true)), as: UTF8.self)
        let drop = String(decoding: StoredRecord.encode(LifecycleResult(kind: .dropProperty, property: "plan", changed: false)), as: UTF8.self)
        #expect(delete == #"[[null,"delete","deleted"]]"#)
        #expect(drop == #"[[null,"drop_property","unchanged","plan"]]"#)
        guard case .lifecycle(let entry) = try StoredRecord.decode(drop, distinctID: { _ in nil }) else {
            Issue.record("a lifecycle entry read back as ops")
            return
        }
        #expect(entry == LifecycleResult(kind: .dropProperty, property: "plan", changed: false))
    }
}
