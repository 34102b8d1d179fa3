import Foundation
import GRDB
import Testing
@testable import OnceEngine

/// Storage v3's inline values: the blob format, and the one index row each value has.
@Suite struct PackedValuesTests {
    static let request = UUID()
    static let values: [(Int64, PropertyValue)] = [
        (1, .string("a\u{0}b é😀")), (2, .string("")), (3, .integer(.min)), (4, .integer(.max)), (5, .decimal(-0.5)),
        (6, .boolean(true)), (7, .boolean(false)), (8, .date(ISODate(parsing: "2024-02-29T12:00:00+01:00")!)),
        (9, .list([.string("x"), .integer(2), .decimal(0.5), .date(ISODate(parsing: "2024-01-01")!)])), (10, .list([])),
        (300, .string(String(repeating: "é", count: 127))), (Int64.max, .integer(0)),
    ]

    static func packed() -> PackedValues {
        var packed = PackedValues()
        for (offset, (name, value)) in values.enumerated() {
            packed.append(name, value, updatedAt: 1_700_000_000_000 + Int64(offset), request: offset.isMultiple(of: 2) ? request : nil)
        }
        return packed
    }

    @Test func everyTypeReadsBackAsWritten() throws {
        let packed = Self.packed()
        let reread = try packed.bytes.withUnsafeBytes { try PackedValues(blob: $0) }
        #expect(reread == packed)
        for (offset, (name, value)) in Self.values.enumerated() {
            let entry = try #require(reread.entry(name))
            #expect(try reread.value(entry, as: value.type) == value)
            #expect(entry.updatedAt == 1_700_000_000_000 + Int64(offset))
            #expect(reread.request(entry) == (offset.isMultiple(of: 2) ? Self.request : nil))
        }
        #expect(reread.entry(11) == nil)
        #expect(throws: StoreError.self) { try reread.value(reread.entry(1)!, as: .number) }
    }

    @Test func setReplacesAndRemoveDeletesOneEntry() throws {
        var packed = Self.packed()
        packed.set(3, .string("now text"), at: 5, by: nil)
        #expect(try packed.value(packed.entry(3)!, as: .string) == .string("now text"))
        #expect(packed.remove(8) && !packed.remove(8))
        #expect(packed.entry(8) == nil)
        var count = 0
        packed.forEach { _ in count += 1 }
        #expect(count == Self.values.count - 1)
        #expect(try packed.value(packed.entry(9)!, as: .list) == Self.values[8].1)
        // Whether a value changed is whether its stored form did: 1 and 1.0 differ, equal texts do not.
        var one = PackedValues()
        one.append(1, .integer(1), updatedAt: 0, request: nil)
        var other = PackedValues()
        other.append(1, .decimal(1), updatedAt: 9, request: Self.request)
        #expect(one.storedForm(1) != other.storedForm(1))
        other.set(1, .integer(1), at: 9, by: Self.request)
        #expect(one.storedForm(1) == other.storedForm(1))
    }

    /// A blob cut short or with any byte changed is read as an error or as
    /// other values, never past its end (the debug build traps an out-of-bounds read).
    @Test func aDamagedBlobIsAnErrorNotACrash() throws {
        let bytes = Self.packed().bytes
        for length in 0..<bytes.count {
            let prefix = Array(bytes.prefix(length))
            _ = try? prefix.withUnsafeBytes { try PackedValues(blob: $0) }
            _ = prefix.withUnsafeBytes { PackedValues.entry(Int64.max, in: $0) }
        }
        #expect(throws: StoreError.self) { try Array(bytes.dropLast()).withUnsafeBytes { try PackedValues(blob: $0) } }
        #expect(throws: StoreError.self) { try [UInt8(9)].withUnsafeBytes { try PackedValues(blob: $0) } }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var damaged = bytes
            damaged[Int.random(in: 0..<damaged.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            guard let read = try? damaged.withUnsafeBytes({ try PackedValues(blob: $0) }) else { continue }
            read.forEach { entry in
                for type in PropertyType.allCases { _ = try? read.value(entry, as: type) }
            }
        }
    }

    /// After writes of every kind, an erasure and a reclaimed drop, the
    /// `property_values` rows are exactly one per value the profiles' blobs hold.
    @Test func eachStoredValueHasExactlyOneIndexRow() async throws {
        let test = try await TestEngine(.sqlite)
        for index in 0..<6 {
            let id = "u\(index)"
            try await test.submit(#"{"$once": {"plan": "p\#(index % 2)", "seats": \#(index), "beta": true, "signup": "2024-01-0\#(index + 1)"}}"#,
                                  distinctID: id)
            try await test.submit(#"{"$set": {"plan": "q\#(index)", "score": 1}, "$add": {"seats": 0.5}, "$append": {"tags": ["a", \#(index)]}}"#,
                                  distinctID: id)
            try await test.submit(#"{"$set": {"score": 1.0}, "$remove": {"tags": "a"}, "$unset": ["beta"], "$once": {"plan": "ignored"}}"#,
                                  distinctID: id)
        }
        _ = try await test.engine.deleteProfile("u1", in: TestEngine.namespace)
        _ = try await test.engine.dropProperty("signup", in: TestEngine.namespace)
        try await test.submit(#"{"$once": {"signup": 5}}"#, distinctID: "u2")
        while try await test.engine.store.reclaimDroppedValues(limit: 2) {}
        try await test.engine.close()

        let queue = try DatabaseQueue(path: test.dbPath)
        defer { try? queue.close() }
        let (indexed, held) = try await queue.read { db in
            PackedValues.addValueFunction(to: db.sqliteConnection!)
            let indexed = try String.fetchAll(db, sql: "SELECT name || ' ' || quote(value) || ' ' || profile FROM property_values")
            var held: [String] = []
            for row in try Row.fetchAll(db, sql: "SELECT id, props FROM profiles") {
                let profile: Int64 = row[0]
                let blob: Data = row[1]
                let values = try blob.withUnsafeBytes { try PackedValues(blob: $0) }
                try values.forEach { entry in
                    let value = try String.fetchOne(db, sql: "SELECT quote(onced_value(props, ?)) FROM profiles WHERE id = ?",
                                                    arguments: [entry.name, profile])!
                    held.append("\(entry.name) \(value) \(profile)")
                }
            }
            return (indexed, held)
        }
        #expect(indexed.sorted() == held.sorted())
        // Five profiles (u1 erased) of plan, seats, score and tags; signup dropped, then u2's anew.
        #expect(held.count == 5 * 4 + 1, "\(held)")
    }
}
