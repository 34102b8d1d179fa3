import Testing
@testable import OnceEngine

@Suite struct ValidatorTests {
    static let date = ISODate(parsing: "2020-10-01")!

    @Test(arguments: [
        (#""iPhone 16 Pro""#, PropertyValue.string("iPhone 16 Pro")),
        ("23000", .integer(23000)),
        ("20.34", .decimal(20.34)),
        ("true", .boolean(true)),
        ("false", .boolean(false)),
        (#""2020-10-01""#, .date(date)),
        (#""2020-13-01""#, .string("2020-13-01")),
        (#"["a", 1, 2.5, "2020-10-01"]"#, .list([.string("a"), .integer(1), .decimal(2.5), .date(date)])),
        ("[]", .list([])),
        (#""""#, .string("")),
    ])
    func infersTypes(json: String, expected: PropertyValue) throws {
        #expect(try Validator.value(JSONParser.parse(json)).get() == expected)
    }

    @Test(arguments: [
        ("null", "null is not a property value"),
        (#"{"a": 1}"#, "objects are not property values"),
        ("[true]", "list elements must be strings, numbers or dates, not a boolean"),
        ("[null]", "not null"),
        (#"[{"a": 1}]"#, "not an object"),
        ("[[1]]", "not an array"),
        ("1e400", "out of range"),
        ("99999999999999999999", "out of range"),
    ])
    func rejectsInvalid(json: String, reason: String) throws {
        guard case .failure(let invalid) = Validator.value(try JSONParser.parse(json)) else {
            Issue.record("\(json) was accepted")
            return
        }
        #expect(invalid.reason.contains(reason))
    }

    @Test func countsStringLengthInCharacters() throws {
        #expect(try Validator.value(.string(String(repeating: "a", count: 255))).get() == .string(String(repeating: "a", count: 255)))
        #expect(throws: InvalidValue.self) { try Validator.value(.string(String(repeating: "a", count: 256))).get() }
        // 255 two-byte characters are 510 bytes but still 255 characters.
        let accented = String(repeating: "é", count: 255)
        #expect(try Validator.value(.string(accented)).get() == .string(accented))
        #expect(throws: InvalidValue.self) { try Validator.value(.string(accented + "é")).get() }
        let emoji = String(repeating: "😀", count: 255)
        #expect(try Validator.value(.string(emoji)).get() == .string(emoji))
    }

    @Test func capsListLength() throws {
        let thousand = JSON.array(Array(repeating: .integer(1), count: 1000))
        #expect(throws: Never.self) { try Validator.value(thousand).get() }
        let tooMany = JSON.array(Array(repeating: .integer(1), count: 1001))
        #expect(throws: InvalidValue.self) { try Validator.value(tooMany).get() }
        #expect(throws: InvalidValue.self) { try Validator.value(.array([.string(String(repeating: "x", count: 256))])).get() }
    }

    @Test(arguments: [
        ("plan", nil),
        ("", "must not be empty"),
        ("$email", "must not start with '$'"),
        (String(repeating: "n", count: 256), "at most 255"),
        (String(repeating: "n", count: 255), nil),
    ])
    func checksNames(name: String, problem: String?) {
        #expect(Validator.checkName(name)?.reason.contains(problem ?? "") ?? (problem == nil))
        #expect((Validator.checkName(name) == nil) == (problem == nil))
    }

    @Test func addTakesNumbersOnly() throws {
        #expect(throws: InvalidValue.self) { try Validator.number(.string("10")).get() }
        #expect(throws: InvalidValue.self) { try Validator.number(.bool(true)).get() }
        #expect(try Validator.number(.decimal(-2.5)).get() == PropertyValue.decimal(-2.5))
    }

    @Test func appendTakesOneValueOrEach() throws {
        #expect(try Validator.listElements(.integer(245)).get() == [.integer(245)])
        #expect(try Validator.listElements(.array([.string("a"), .string("b")])).get() == [.string("a"), .string("b")])
        #expect(throws: InvalidValue.self) { try Validator.listElements(.bool(true)).get() }
    }

    @Test func registeredTypeDecides() {
        #expect(PropertyValue.date(Self.date).conforming(to: .string) == .string("2020-10-01"))
        #expect(PropertyValue.string("abc").conforming(to: .date) == nil)
        #expect(PropertyValue.decimal(1.5).conforming(to: .number) == .decimal(1.5))
        #expect(PropertyValue.integer(1).conforming(to: .boolean) == nil)
        #expect(PropertyValue.boolean(true).conforming(to: .number) == nil)
    }
}
