import Foundation
import Testing
@testable import OnceEngine

/// Every op and outcome of SPEC §2, against every store.
@Suite struct OperationTests {
    /// Each case: requests applied in order to a fresh profile; the outcomes of the
    /// last one; the stored value of `p` after it (nil: absent).
    struct Case: CustomTestStringConvertible, Sendable {
        var title: String
        var before: [String]
        var request: String
        var outcome: Outcome
        var stored: PropertyValue?
        var testDescription: String { title }
    }

    static let cases: [Case] = [
        Case(title: "set_once on a new property", before: [], request: #"{"$once": {"p": "a"}}"#, outcome: .set, stored: .string("a")),
        Case(title: "set_once keeps the first value", before: [#"{"$once": {"p": "a"}}"#], request: #"{"$once": {"p": "b"}}"#, outcome: .unchanged, stored: .string("a")),
        Case(title: "set_once after set", before: [#"{"$set": {"p": 1}}"#], request: #"{"$once": {"p": 2}}"#, outcome: .unchanged, stored: .integer(1)),
        Case(title: "set_once of the wrong type", before: [#"{"$once": {"p": 1}}"#], request: #"{"$once": {"p": "x"}}"#, outcome: .ignoredTypeMismatch, stored: .integer(1)),
        Case(title: "set_once of null", before: [], request: #"{"$once": {"p": null}}"#, outcome: .ignoredInvalid, stored: nil),
        Case(title: "set_once with a $ name", before: [], request: #"{"$once": {"$p": 1}}"#, outcome: .ignoredInvalid, stored: nil),
        Case(title: "set replaces", before: [#"{"$set": {"p": "a"}}"#], request: #"{"$set": {"p": "b"}}"#, outcome: .set, stored: .string("b")),
        Case(title: "set of the same value", before: [#"{"$set": {"p": "a"}}"#], request: #"{"$set": {"p": "a"}}"#, outcome: .unchanged, stored: .string("a")),
        Case(title: "set of 1.0 over 1 keeps the written form", before: [#"{"$set": {"p": 1}}"#], request: #"{"$set": {"p": 1.0}}"#, outcome: .set, stored: .decimal(1)),
        Case(title: "set of the wrong type", before: [#"{"$set": {"p": true}}"#], request: #"{"$set": {"p": 1}}"#, outcome: .ignoredTypeMismatch, stored: .boolean(true)),
        Case(title: "date string to a string property stays a string", before: [#"{"$set": {"p": "plain"}}"#], request: #"{"$set": {"p": "2020-10-01"}}"#, outcome: .set, stored: .string("2020-10-01")),
        Case(title: "non-date string to a date property", before: [#"{"$set": {"p": "2020-10-01"}}"#], request: #"{"$set": {"p": "soon"}}"#, outcome: .ignoredTypeMismatch, stored: .date(ISODate(parsing: "2020-10-01")!)),
        Case(title: "add starts from 0", before: [], request: #"{"$add": {"p": 10}}"#, outcome: .set, stored: .integer(10)),
        Case(title: "add subtracts", before: [#"{"$add": {"p": 10}}"#], request: #"{"$add": {"p": -3}}"#, outcome: .set, stored: .integer(7)),
        Case(title: "add a decimal to an integer", before: [#"{"$set": {"p": 10}}"#], request: #"{"$add": {"p": -2.5}}"#, outcome: .set, stored: .decimal(7.5)),
        Case(title: "add to a string property", before: [#"{"$set": {"p": "a"}}"#], request: #"{"$add": {"p": 1}}"#, outcome: .ignoredTypeMismatch, stored: .string("a")),
        Case(title: "add a string", before: [], request: #"{"$add": {"p": "1"}}"#, outcome: .ignoredInvalid, stored: nil),
        Case(title: "append to an unset list", before: [], request: #"{"$append": {"p": 245}}"#, outcome: .set, stored: .list([.integer(245)])),
        Case(title: "append each element", before: [#"{"$append": {"p": "a"}}"#], request: #"{"$append": {"p": ["b", "a", "c"]}}"#, outcome: .set, stored: .list([.string("a"), .string("b"), .string("c")])),
        Case(title: "append a held value", before: [#"{"$append": {"p": ["a", 1]}}"#], request: #"{"$append": {"p": [1.0, "a"]}}"#, outcome: .unchanged, stored: .list([.string("a"), .integer(1)])),
        Case(title: "append to a number", before: [#"{"$set": {"p": 1}}"#], request: #"{"$append": {"p": 2}}"#, outcome: .ignoredTypeMismatch, stored: .integer(1)),
        Case(title: "append a boolean", before: [], request: #"{"$append": {"p": true}}"#, outcome: .ignoredInvalid, stored: nil),
        Case(title: "remove a value", before: [#"{"$append": {"p": ["a", "b"]}}"#], request: #"{"$remove": {"p": "a"}}"#, outcome: .set, stored: .list([.string("b")])),
        Case(title: "remove the last value leaves an empty list", before: [#"{"$append": {"p": "a"}}"#], request: #"{"$remove": {"p": ["a"]}}"#, outcome: .set, stored: .list([])),
        Case(title: "remove an absent value", before: [#"{"$append": {"p": "a"}}"#], request: #"{"$remove": {"p": "z"}}"#, outcome: .unchanged, stored: .list([.string("a")])),
        Case(title: "remove from an unknown property", before: [], request: #"{"$remove": {"p": "z"}}"#, outcome: .unchanged, stored: nil),
        Case(title: "remove from a string", before: [#"{"$set": {"p": "a"}}"#], request: #"{"$remove": {"p": "a"}}"#, outcome: .ignoredTypeMismatch, stored: .string("a")),
        Case(title: "unset a value", before: [#"{"$set": {"p": "a"}}"#], request: #"{"$unset": ["p"]}"#, outcome: .unset, stored: nil),
        Case(title: "unset an absent property", before: [#"{"$set": {"q": "a"}}"#], request: #"{"$unset": ["p"]}"#, outcome: .unchanged, stored: nil),
        Case(title: "set_once after unset", before: [#"{"$set": {"p": "a"}}"#, #"{"$unset": ["p"]}"#], request: #"{"$once": {"p": "b"}}"#, outcome: .set, stored: .string("b")),
        Case(title: "multi-op order: once, set, add", before: [], request: #"{"$add": {"p": 5}, "$set": {"p": 2}, "$once": {"p": 1}}"#, outcome: .set, stored: .integer(7)),
        Case(title: "multi-op order: unset last", before: [], request: #"{"$unset": ["p"], "$set": {"p": 2}}"#, outcome: .unset, stored: nil),
    ]

    @Test(arguments: StoreKind.allCases, cases)
    func operation(store: StoreKind, _ testCase: Case) async throws {
        let engine = try await TestEngine(store)
        for body in testCase.before { try await engine.submit(body) }
        let record = try await engine.submit(testCase.request)
        let last = try #require(record.propertyResults.last)
        #expect(last.outcome == testCase.outcome)
        if last.outcome == .ignoredInvalid || last.outcome == .ignoredTypeMismatch {
            #expect(last.reason?.isEmpty == false)
        }
        let stored = try await engine.value(testCase.request.contains("$p") ? "$p" : "p")
        #expect(stored == testCase.stored)
        try await engine.engine.close()
    }

    /// The exact payload of the seed API page.
    @Test(arguments: StoreKind.allCases)
    func seedPayload(store: StoreKind) async throws {
        let engine = try await TestEngine(store)
        let body = #"""
            {"$once": {"property_1": "some text", "property_2": 123, "property_3": 45.67, "property_4": true,
             "property_5": false, "property_6": "2020-10-01T18:30:00.000Z", "property_7": "2021-12-01",
             "property_8": ["iPhone 16 Pro", "iPad 32 GB"], "property_9": [23000, 20.34],
             "property_n": ["2020-10-01T18:30:00Z", "2021-11-01T13:35:00+02:00", "2023-12-05"]},
             "distinct_id": "XXXXXXXX"}
            """#
        let element = try RequestDecoder.element(body: JSONParser.parse(body), op: .setOnce)
        let record = try await engine.engine.submit(WriteRequest(namespace: TestEngine.namespace, elements: [element]))
        #expect(record.propertyResults.count == 10)
        #expect(record.propertyResults.allSatisfy { $0.outcome == .set })

        let types = try await engine.engine.registeredTypes(in: TestEngine.namespace)
        #expect(types == ["property_1": .string, "property_2": .number, "property_3": .number, "property_4": .boolean,
                          "property_5": .boolean, "property_6": .date, "property_7": .date, "property_8": .list,
                          "property_9": .list, "property_n": .list])
        let profile = try #require(try await engine.profile("XXXXXXXX"))
        #expect(profile["property_2"] == .integer(123))
        #expect(profile["property_3"] == .decimal(45.67))
        #expect(profile["property_6"]?.json == .string("2020-10-01T18:30:00.000Z"))
        #expect(profile["property_9"] == .list([.integer(23000), .decimal(20.34)]))
        #expect(profile["property_n"]?.json.text == #"["2020-10-01T18:30:00Z","2021-11-01T13:35:00+02:00","2023-12-05"]"#)

        // A second identical call changes nothing.
        let again = try await engine.engine.submit(WriteRequest(namespace: TestEngine.namespace, elements: [element]))
        #expect(again.propertyResults.allSatisfy { $0.outcome == .unchanged })
        try await engine.engine.close()
    }

    @Test(arguments: StoreKind.allCases)
    func typeIsFixedByTheFirstValidValuePerNamespace(store: StoreKind) async throws {
        let engine = try await TestEngine(store)
        try await engine.submit(#"{"$once": {"age": null}}"#, distinctID: "a")
        try await engine.submit(#"{"$once": {"age": "old"}}"#, distinctID: "b")
        let outcomes = try await engine.outcomes(#"{"$once": {"age": 30}}"#, distinctID: "c")
        #expect(outcomes["age"] == .ignoredTypeMismatch)
        #expect(try await engine.engine.registeredTypes(in: TestEngine.namespace) == ["age": .string])

        // Another namespace has its own registry.
        let test = Namespace(workspace: TestEngine.namespace.workspace, version: .test)
        #expect(try await engine.outcomes(#"{"$once": {"age": 30}}"#, distinctID: "c", namespace: test)["age"] == .set)
        #expect(try await engine.engine.registeredTypes(in: test) == ["age": .number])
        #expect(try await engine.profile("c", namespace: test)?["age"] == .integer(30))
        #expect(try await engine.profile("c")?["age"] == nil)
        try await engine.engine.close()
    }

    @Test(arguments: StoreKind.allCases)
    func profilesAreCreatedByWritesButNotByUnset(store: StoreKind) async throws {
        let engine = try await TestEngine(store)
        try await engine.submit(#"{"$unset": ["a"]}"#, distinctID: "ghost")
        #expect(try await engine.profile("ghost") == nil)
        try await engine.submit(#"{"$once": {"a": null}}"#, distinctID: "empty")
        let empty = try #require(try await engine.profile("empty"))
        #expect(empty.properties.isEmpty)

        try await engine.submit(#"{"$set": {"a": 1}}"#, distinctID: "u")
        let created = try #require(try await engine.profile("u"))
        #expect(created.createdAt == created.updatedAt)
        try await Task.sleep(for: .milliseconds(5))
        try await engine.submit(#"{"$set": {"a": 2}}"#, distinctID: "u")
        let updated = try #require(try await engine.profile("u"))
        #expect(updated.createdAt == created.createdAt)
        #expect(updated.updatedAt > created.updatedAt)
        try await engine.engine.close()
    }

    @Test(arguments: StoreKind.allCases)
    func requestRecordsAreStoredPerNamespace(store: StoreKind) async throws {
        let engine = try await TestEngine(store)
        let record = try await engine.submit(#"{"$once": {"a": 1, "b": null}, "$unset": ["c"]}"#)
        let stored = try #require(try await engine.engine.record(record.id, in: TestEngine.namespace))
        #expect(stored.results == record.results)
        #expect(stored.results.map(\.op) == [.setOnce, .unset])
        #expect(stored.results[0].properties[1] == PropertyResult(name: "b", outcome: .ignoredInvalid, reason: "null is not a property value"))
        #expect(try await engine.engine.record(record.id, in: Namespace(workspace: "other", version: .live)) == nil)
        #expect(try await engine.engine.record(UUID(), in: TestEngine.namespace) == nil)
        try await engine.engine.close()
    }

    @Test(arguments: StoreKind.allCases)
    func listsCapAtAThousandElements(store: StoreKind) async throws {
        let engine = try await TestEngine(store)
        let first = (0..<1000).map(String.init).joined(separator: ",")
        #expect(try await engine.outcomes(#"{"$append": {"l": [\#(first)]}}"#)["l"] == .set)
        #expect(try await engine.outcomes(#"{"$append": {"l": [1000]}}"#)["l"] == .ignoredInvalid)
        #expect(try await engine.outcomes(#"{"$append": {"l": [999]}}"#)["l"] == .unchanged)
        guard case .list(let list)? = try await engine.value("l") else { Issue.record("no list"); return }
        #expect(list.count == 1000)
        try await engine.engine.close()
    }

    @Test(arguments: StoreKind.allCases)
    func numbersKeepTheirWrittenFormThroughTheStore(store: StoreKind) async throws {
        let engine = try await TestEngine(store)
        try await engine.submit(#"{"$set": {"i": 23000, "d": 20.34, "whole": 100.0, "big": 9223372036854775807, "neg": -0.5}}"#)
        let profile = try #require(try await engine.profile())
        #expect(profile["i"] == .integer(23000))
        #expect(profile["d"] == .decimal(20.34))
        #expect(profile["whole"] == .decimal(100))
        #expect(profile["big"] == .integer(.max))
        #expect(profile["neg"] == .decimal(-0.5))
        try await engine.engine.close()
    }
}
