import Foundation
import GRDB
import Testing
@testable import OnceEngine

/// The query connection keeps a bounded number of prepared statements.
@Suite struct QueryStatementsTests {
    @Test func aStatementIsPreparedOnceAndTheLeastRecentlyUsedGivesWay() throws {
        let db = try DatabaseQueue()
        try db.inDatabase { db in
            let statements = QueryStatements(capacity: 2)
            let one = try statements.statement("SELECT 1", in: db)
            let two = try statements.statement("SELECT 2", in: db)
            #expect(try statements.statement("SELECT 1", in: db) === one)
            // "SELECT 2" is now the least recently used: the third statement takes its place.
            _ = try statements.statement("SELECT 3", in: db)
            #expect(statements.count == 2)
            #expect(try statements.statement("SELECT 1", in: db) === one)
            #expect(try statements.statement("SELECT 2", in: db) !== two)
            #expect(try Int.fetchOne(statements.statement("SELECT ? + 1", in: db), arguments: [41]) == 42)
            #expect(try Int.fetchOne(statements.statement("SELECT ? + 1", in: db), arguments: [1]) == 2)
            statements.removeAll()
            #expect(statements.count == 0)
        }
        try db.close()
    }

    /// More filter shapes than the connection keeps statements for (a page and a count each), then the first again:
    /// every answer is the filter's, whichever statements were kept or prepared anew.
    @Test func answersStayRightPastTheStatementsKept() async throws {
        let test = try await TestEngine(.sqlite)
        for seats in 1...5 { try await test.submit(#"{"$set": {"seats": \#(seats)}}"#, distinctID: "p\(seats)") }
        for conditions in Array(1...60) + [1, 2, 3, 60] {
            let any = (1...conditions).map { #"{"property": "seats", "op": "eq", "value": \#($0)}"# }.joined(separator: ", ")
            let body = try JSONParser.parse(#"{"where": {"or": [\#(any)]}}"#)
            let expected = (1...min(conditions, 5)).map { "p\($0)" }
            let page = try await test.engine.query(body, in: TestEngine.namespace, timeout: .seconds(30))
            #expect(page.profiles.map(\.distinctID) == expected, "\(conditions) conditions")
            #expect(try await test.engine.count(body, in: TestEngine.namespace, timeout: .seconds(30)) == expected.count)
        }
        try await test.engine.close()
    }
}
