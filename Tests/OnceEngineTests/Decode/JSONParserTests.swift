import Testing
@testable import OnceEngine

@Suite struct JSONParserTests {
    @Test(arguments: [
        ("23000", JSON.integer(23000)),
        ("-7", .integer(-7)),
        ("20.34", .decimal(20.34)),
        ("1e3", .decimal(1000)),
        ("100.0", .decimal(100)),
        ("true", .bool(true)),
        ("false", .bool(false)),
        ("null", .null),
        ("\"a\\u00e9\\n\"", .string("aé\n")),
        ("\"\\ud83d\\ude00\"", .string("😀")),
        ("9223372036854775807", .integer(Int64.max)),
        ("9223372036854775808", .outOfRangeNumber("9223372036854775808")),
        ("1e400", .outOfRangeNumber("1e400")),
        (" [1, \"x\", {\"k\": []}] ", .array([.integer(1), .string("x"), .object(JSONObject([.init("k", .array([]))]))])),
    ])
    func parsesValues(text: String, expected: JSON) throws {
        #expect(try JSONParser.parse(text) == expected)
    }

    @Test func trueIsNeverOne() throws {
        #expect(try JSONParser.parse("1") != JSONParser.parse("true"))
        #expect(try JSONParser.parse("1") == .integer(1))
    }

    @Test func keepsMemberOrder() throws {
        let object = try #require(try JSONParser.parse(#"{"b": 1, "a": 2, "c": 3}"#).objectValue)
        #expect(object.keys == ["b", "a", "c"])
    }

    @Test(arguments: [
        ("", "unexpected end of input"),
        ("{", "expected a string key"),
        ("{\"a\":1,}", "expected a string key"),
        ("[1,]", "unexpected character"),
        ("[1 2]", "expected ',' or ']'"),
        ("{\"a\" 1}", "expected ':'"),
        ("01", "leading zeros"),
        ("1.", "expected a digit after '.'"),
        ("-", "invalid number"),
        ("tru", "invalid literal"),
        ("\"abc", "unterminated string"),
        ("\"a\u{01}b\"", "control character"),
        ("\"\\x\"", "invalid escape"),
        ("\"\\ud800\"", "lone surrogate"),
        ("\"\\udc00\"", "lone surrogate"),
        ("\"\\u12\"", "truncated \\u escape"),
        ("\"\\u12zz\"", "invalid hex digit"),
        ("{\"a\":1,\"a\":2}", "duplicate key"),
        ("{} x", "unexpected data after"),
        ("NaN", "unexpected character"),
    ])
    func rejectsMalformed(text: String, message: String) {
        #expect {
            try JSONParser.parse(text)
        } throws: { error in
            (error as? JSONSyntaxError)?.message.contains(message) == true
        }
    }

    /// Small objects are checked by scanning, large ones through a set built
    /// at the 16th key: a duplicate is found wherever its first use was.
    @Test(arguments: [(3, 1), (15, 0), (16, 0), (17, 3), (40, 15), (40, 16), (40, 39)])
    func findsDuplicateKeysInObjectsOfAnySize(keys: Int, repeated: Int) throws {
        let members = (0..<keys).map { #""k\#($0)": \#($0)"# }
        let unique = try JSONParser.parse("{" + members.joined(separator: ",") + "}")
        #expect(unique.objectValue?.members.count == keys)
        let text = "{" + (members + [#""k\#(repeated)": true"#, #""z": 0"#]).joined(separator: ",") + "}"
        #expect {
            try JSONParser.parse(text)
        } throws: { error in
            (error as? JSONSyntaxError)?.message == "duplicate key \"k\(repeated)\""
        }
    }

    @Test func rejectsInvalidUTF8() {
        let bytes: [UInt8] = Array("\"ab".utf8) + [0xC3, 0x28] + Array("\"".utf8)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(bytes) }
        let overlong: [UInt8] = [0x22, 0xC0, 0xAF, 0x22]
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(overlong) }
        let escaped: [UInt8] = Array("\"\\n".utf8) + [0xFF] + [0x22]
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(escaped) }
    }

    @Test func capsNestingDepth() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect { try JSONParser.parse(deep) } throws: { error in
            (error as? JSONSyntaxError)?.message.contains("nesting deeper than") == true
        }
        let allowed = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        _ = try JSONParser.parse(allowed)
    }

    @Test func writesWhatItParses() throws {
        let text = #"{"s":"a\"b\\c\n\u0001","i":23000,"d":20.34,"b":true,"n":null,"l":[1,2.5,"x"]}"#
        let json = try JSONParser.parse(text)
        #expect(json.text == text)
        #expect(try JSONParser.parse(json.text) == json)
    }
}
