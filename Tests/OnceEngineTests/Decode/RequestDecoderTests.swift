import Testing
@testable import OnceEngine

@Suite struct RequestDecoderTests {
    func element(_ body: String, _ op: Op) throws -> Element {
        try RequestDecoder.element(body: JSONParser.parse(body), op: op)
    }

    @Test(arguments: [
        (#"[]"#, "the body must be a JSON object"),
        (#"{"$once": {}}"#, "missing distinct_id"),
        (#"{"$once": {}, "distinct_id": 5}"#, "distinct_id must be a string"),
        (#"{"$once": {}, "distinct_id": ""}"#, "must not be empty"),
        (#"{"distinct_id": "u"}"#, "missing $once"),
        (#"{"$once": [1], "distinct_id": "u"}"#, "$once must be an object"),
        (#"{"$once": "x", "distinct_id": "u"}"#, "$once must be an object"),
        (#"{"$once": {}, "$set": {}, "distinct_id": "u"}"#, "this endpoint takes $once"),
    ])
    func rejectsShapes(body: String, message: String) {
        #expect { try element(body, .setOnce) } throws: { error in
            (error as? DecodeError)?.message.contains(message) == true
        }
    }

    @Test func rejectsLongDistinctID() {
        let body = #"{"$set": {}, "distinct_id": ""# + String(repeating: "u", count: 256) + #""}"#
        #expect(throws: DecodeError.self) { try element(body, .set) }
    }

    @Test func unsetTakesNames() throws {
        let decoded = try element(#"{"$unset": ["a", "b"], "distinct_id": "u"}"#, .unset)
        #expect(decoded.ops == [OpInput(unsetting: ["a", "b"])])
        // A repeated name is one property to delete (found by schemathesis: the record had the key twice).
        let repeated = try element(#"{"$unset": ["a", "", "a", ""], "distinct_id": "u"}"#, .unset)
        #expect(repeated.ops.first?.properties.keys == ["a", ""])
        #expect(throws: DecodeError.self) { try element(#"{"$unset": {"a": 1}, "distinct_id": "u"}"#, .unset) }
        #expect(throws: DecodeError.self) { try element(#"{"$unset": [1], "distinct_id": "u"}"#, .unset) }
    }

    @Test func ordersOpsBySpec() throws {
        let object = try #require(try JSONParser.parse(#"{"$unset": ["x"], "$add": {"n": 1}, "$set": {}, "$once": {}}"#).objectValue)
        let decoded = try RequestDecoder.element(distinctID: "u", opsIn: object)
        #expect(decoded.ops.map(\.op) == [.setOnce, .set, .add, .unset])
        #expect(throws: DecodeError.self) {
            try RequestDecoder.element(distinctID: "u", opsIn: JSONObject([.init("$bogus", .object(JSONObject()))]))
        }
        #expect(throws: DecodeError.self) { try RequestDecoder.element(distinctID: "u", opsIn: JSONObject()) }
    }

    @Test func namespaces() throws {
        #expect(try RequestDecoder.namespace(workspace: "FY12345678", version: "test") == Namespace(workspace: "FY12345678", version: .test))
        #expect(throws: DecodeError.self) { try RequestDecoder.namespace(workspace: "FY1", version: "prod") }
        #expect(throws: DecodeError.self) { try RequestDecoder.namespace(workspace: "", version: "live") }
        #expect(throws: DecodeError.self) { try RequestDecoder.namespace(workspace: "a/b", version: "live") }
    }

    @Test func jsonLines() throws {
        let request = try JSONLine.request(from: Array(#"{"workspace":"W","version":"live","distinct_id":"u","$set":{"a":1}}"#.utf8))
        #expect(request.namespace == Namespace(workspace: "W", version: .live))
        #expect(request.elements.first?.ops.first?.op == .set)
        #expect(throws: DecodeError.self) { try JSONLine.request(from: Array(#"{"version":"live","distinct_id":"u","$set":{}}"#.utf8)) }
        #expect(throws: DecodeError.self) { try JSONLine.request(from: Array("not json".utf8)) }
    }
}
