import Foundation
import Testing
@testable import OnceEngine

/// SPEC §8's 400s: each names the property, its type and the problem; limits hold.
@Suite struct FilterDecoderTests {
    static let types: [String: PropertyType] = ["plan": .string, "seats": .number, "beta": .boolean, "signup": .date, "tags": .list]
    let namespace = Namespace(workspace: "FY12345678", version: .live)

    func decode(_ body: String) throws(DecodeError) -> ProfileQuery {
        let json: JSON
        do { json = try JSONParser.parse(body) } catch { preconditionFailure("test JSON: \(error)") }
        return try ProfileQuery.decode(json, in: namespace, types: Self.types, now: Date(timeIntervalSince1970: 1_700_000_000))
    }

    func message(_ body: String) -> String? {
        do {
            _ = try decode(body)
            return nil
        } catch {
            return error.message
        }
    }

    @Test(arguments: [
        (#"{"where": {"property": "signup", "op": "lt", "value": "yesterday"}}"#, "condition on signup (a date property): \"yesterday\" is not an ISO 8601 date"),
        (#"{"where": {"property": "seats", "op": "eq", "value": "3"}}"#, "condition on seats (a number property): a string is not a number"),
        (#"{"where": {"property": "beta", "op": "lt", "value": true}}"#, "condition on beta (a boolean property): lt does not apply to boolean properties"),
        (#"{"where": {"property": "tags", "op": "eq", "value": "x"}}"#, "condition on tags (a list property): eq does not apply to list properties"),
        (#"{"where": {"property": "tags", "op": "contains", "value": true}}"#, "condition on tags (a list property): contains takes a string, number or date, not a boolean"),
        (#"{"where": {"property": "plan", "op": "in", "value": "pro"}}"#, "condition on plan (a string property): in takes an array of values"),
        (#"{"where": {"property": "plan", "op": "in", "value": ["pro", 1]}}"#, "condition on plan (a string property): a number is not a string"),
        (#"{"where": {"property": "signup", "op": "within_days", "value": 0}}"#, "condition on signup (a date property): within_days takes a number of days above 0 (at most 1,000,000)"),
        (#"{"where": {"property": "plan", "op": "like", "value": "p%"}}"#, "condition on plan: unknown op \"like\"; ops are eq, ne, lt, lte, gt, gte, in, contains, starts_with, within_days, is_set, not_set"),
        (#"{"where": {"property": "plan", "op": "is_set", "value": true}}"#, "condition on plan: is_set takes no value"),
        (#"{"where": {"property": "plan", "op": "eq"}}"#, "condition on plan: eq needs a value"),
        (#"{"where": {"property": "plan", "op": "eq", "value": "pro", "extra": 1}}"#, "unknown condition key \"extra\""),
        (#"{"where": {"and": {"property": "plan", "op": "is_set"}}}"#, "\"and\" takes an array of filters"),
        (#"{"where": {"xor": []}}"#, "unknown filter key \"xor\": expected and, or, not or a condition"),
        (#"{"where": {"and": [], "or": []}}"#, "a filter is {\"and\": [...]}, {\"or\": [...]}, {\"not\": filter} or a condition with \"property\" and \"op\""),
        (#"{"where": [1]}"#, "a filter must be an object, not an array"),
        (#"{"where": {}, "limit": 0}"#, "limit must be an integer from 1 to 1000"),
        (#"{"limit": 1001}"#, "limit must be an integer from 1 to 1000"),
        (#"{"limit": 10.5}"#, "limit must be an integer from 1 to 1000"),
        (#"{"limit": 1000.5}"#, "limit must be an integer from 1 to 1000"),
        (#"{"cursor": "not base64 !"}"#, "cursor is not a next_cursor this API returned"),
        (#"{"properties": "plan"}"#, "properties must be an array of at most 1000 property names"),
        (#"{"sort": "plan"}"#, "unknown key \"sort\"; a query takes where, limit, cursor and properties"),
        ("[]", "the body must be a JSON object"),
    ])
    func aBadQueryIsA400ThatSaysWhy(body: String, expected: String) {
        #expect(message(body) == expected)
    }

    @Test func nestingAndConditionCountsAreBounded() throws {
        func nested(_ depth: Int) -> String {
            (0..<depth).reduce(#"{"property": "plan", "op": "is_set"}"#) { inner, _ in #"{"not": \#(inner)}"# }
        }
        #expect(message(#"{"where": \#(nested(8))}"#) == nil)
        #expect(message(#"{"where": \#(nested(9))}"#) == "filters nest at most 8 levels of and/or/not")
        // Hostile depth is refused by the JSON parser or the decoder, never by a crash.
        #expect(message(#"{"where": \#(nested(60))}"#) != nil)
        let conditions = { (count: Int) in #"{"where": {"or": [\#(Array(repeating: #"{"property": "plan", "op": "is_set"}"#, count: count).joined(separator: ","))]}}"# }
        #expect(message(conditions(64)) == nil)
        #expect(message(conditions(65)) == "a filter holds at most 64 conditions")
        let values = { (count: Int, property: String) in #"{"where": {"property": "\#(property)", "op": "in", "value": [\#((0..<count).map(String.init).joined(separator: ","))]}}"# }
        #expect(message(values(1000, "seats")) == nil)
        #expect(message(values(1001, "seats")) == "condition on seats: in takes at most 1000 values")
        #expect(message(values(1001, "unregistered")) == "condition on unregistered: in takes at most 1000 values")
    }

    @Test func conditionsAreTypedAndUnregisteredNamesAreConstant() throws {
        let query = try decode(#"""
            {"where": {"and": [
                {"property": "signup", "op": "within_days", "value": 1.5},
                {"property": "nobody", "op": "not_set"},
                {"property": "nobody", "op": "eq", "value": "anything"},
                {"property": "plan", "op": "eq", "value": "2024-01-01"}
            ]}, "limit": 5, "properties": ["plan"]}
            """#)
        let now: Int64 = 1_700_000_000_000_000
        #expect(query.filter == .and([
            .condition(Condition(property: "signup", type: .date, test: .between(now - 129_600_000_000, now))),
            .constant(true),
            .constant(false),
            // A date-shaped string compared with a string property stays a string.
            .condition(Condition(property: "plan", type: .string, test: .equals(.string("2024-01-01")))),
        ]))
        #expect(query.limit == 5)
        #expect(try decode(#"{"limit": 7.0, "where": {"not": {}}}"#).limit == 7)
        #expect(try decode(#"{"where": {"not": {}}}"#).filter == .not(.everything))
        #expect(query.properties == ["plan"])
    }

    @Test func aCursorRoundTripsAnyDistinctID() throws {
        for id in ["a", "user/1?x=%20", "Ω≈ç√", String(repeating: "z", count: 255), "+/="] {
            let query = try decode(#"{"cursor": "\#(QueryCursor.cursor(after: id))"}"#)
            #expect(query.after == id)
        }
    }

    @Test func theFirstStringAfterAPrefixBoundsItsRange() {
        #expect(PrefixBound.firstAfter("ab") == "ac")
        #expect(PrefixBound.firstAfter("a\u{D7FF}") == "a\u{E000}")
        #expect(PrefixBound.firstAfter("a\u{10FFFF}") == "b")
        #expect(PrefixBound.firstAfter("\u{10FFFF}") == nil)
    }
}
