import Foundation
import Testing
import TestSupport
@testable import OnceEngine

/// Cohort queries on SQLite keep each namespace's names between queries: they
/// see a namespace, a name, a drop and a new type as soon as any process on
/// the file has committed it.
@Suite struct QueryNamesTests {
    @Test func queriesSeeEveryChangeToTheNamesAnotherProcessCommits() async throws {
        let asking = try await TestEngine(.sqlite)
        let writing = try Engine(sqlitePath: asking.dbPath)
        let namespace = TestEngine.namespace
        func count(_ filter: String) async throws -> Int {
            try await asking.engine.count(try JSONParser.parse(#"{"where": \#(filter)}"#), in: namespace, timeout: .seconds(30))
        }
        func write(_ body: String, _ distinctID: String) async throws {
            let element = try RequestDecoder.element(distinctID: distinctID, opsIn: try JSONParser.parse(body).objectValue!)
            _ = try await writing.submit(WriteRequest(namespace: namespace, elements: [element]))
        }
        #expect(try await count("{}") == 0)
        // The namespace and its first name, made by the other process.
        try await write(#"{"$set": {"plan": "pro"}}"#, "a")
        #expect(try await count("{}") == 1)
        #expect(try await count(#"{"property": "plan", "op": "eq", "value": "pro"}"#) == 1)
        // A second name.
        try await write(#"{"$set": {"seats": 3}}"#, "b")
        #expect(try await count(#"{"property": "seats", "op": "gte", "value": 3}"#) == 1)
        // Dropped, then registered anew as another type: the old type's condition no longer checks.
        _ = try await writing.dropProperty("plan", in: namespace)
        #expect(try await count(#"{"property": "plan", "op": "is_set"}"#) == 0)
        try await write(#"{"$set": {"plan": 7}}"#, "b")
        #expect(try await count(#"{"property": "plan", "op": "gt", "value": 1}"#) == 1)
        await #expect(throws: DecodeError.self) { try await count(#"{"property": "plan", "op": "eq", "value": "pro"}"#) }
        // A name in another namespace leaves this one's answers as they were.
        let other = Namespace(workspace: "FY12345678", version: .test)
        let element = try RequestDecoder.element(distinctID: "c", opsIn: try JSONParser.parse(#"{"$set": {"plan": "x"}}"#).objectValue!)
        _ = try await writing.submit(WriteRequest(namespace: other, elements: [element]))
        #expect(try await count(#"{"property": "plan", "op": "gt", "value": 1}"#) == 1)
        #expect(try await asking.engine.count(try JSONParser.parse(#"{"where": {"property": "plan", "op": "eq", "value": "x"}}"#),
                                              in: other, timeout: .seconds(30)) == 1)
        try await writing.close()
        try await asking.engine.close()
    }
}
