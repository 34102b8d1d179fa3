import Foundation
import Testing
@testable import OnceEngine

/// ``ProfileJSON`` writes bytes by hand: each test reads them back with the
/// parser and compares them with the tree ``PropertyValue/json`` describes.
@Suite struct ProfileJSONTests {
    static let created = Date(epochMilliseconds: 1_704_067_200_123)
    static let updated = Date(epochMilliseconds: 1_735_689_599_999)

    @Test func writesEveryTypeAsGETShowsIt() throws {
        let date = try #require(ISODate(parsing: "2024-02-29T12:00:00+01:00"))
        let properties: [(name: String, value: PropertyValue)] = [
            ("beta", .boolean(true)),
            ("plan", .string("pro")),
            ("quote\"d", .string("a \"b\" \\ c\nd\te\u{1}é😀")),
            ("ratio", .decimal(100)),
            ("score", .decimal(-20.34)),
            ("seats", .integer(Int64.min)),
            ("signup", .date(date)),
            ("tags", .list([.string("x"), .integer(3), .decimal(0.5), .date(date)])),
        ]
        let profile = Profile(distinctID: "user \"1\"/é", properties: properties, createdAt: Self.created, updatedAt: Self.updated)
        var bytes: [UInt8] = []
        ProfileJSON.write(profile, to: &bytes)
        let expected = JSON.object(JSONObject([
            .init("distinct_id", .string("user \"1\"/é")),
            .init("properties", .object(JSONObject(properties.map { .init($0.name, $0.value.json) }))),
            .init("created_at", .string("2024-01-01T00:00:00.123Z")),
            .init("updated_at", .string("2024-12-31T23:59:59.999Z")),
        ]))
        #expect(try JSONParser.parse(bytes) == expected)
        // Member order is part of the shape, and the parser keeps it.
        #expect(try JSONParser.parse(bytes).objectValue?.keys == ["distinct_id", "properties", "created_at", "updated_at"])
        #expect(String(decoding: bytes, as: UTF8.self).contains(#""ratio":100.0,"#))
        // Each value's bytes are its `json` tree's text: a stored list is bound with them too.
        for property in properties {
            var written: [UInt8] = []
            property.value.writeJSON(to: &written)
            #expect(String(decoding: written, as: UTF8.self) == property.value.json.text, "\(property.name)")
        }
    }

    @Test func writesAnEmptyProfileAndExtraMembers() throws {
        let profile = Profile(distinctID: "", properties: [], createdAt: Self.created, updatedAt: Self.created)
        var bytes = Array("[".utf8)
        ProfileJSON.write(profile, to: &bytes, extra: [.init("provenance", .object(JSONObject([.init("plan", .null)])))])
        bytes.append(UInt8(ascii: "]"))
        #expect(String(decoding: bytes, as: UTF8.self) == #"""
            [{"distinct_id":"","properties":{},"created_at":"2024-01-01T00:00:00.123Z",\#
            "updated_at":"2024-01-01T00:00:00.123Z","provenance":{"plan":null}}]
            """#)
    }
}
