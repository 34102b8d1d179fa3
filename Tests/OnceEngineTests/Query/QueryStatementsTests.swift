import Foundation
import GRDB
import Testing
@testable import OnceEngine

/// The query connection keeps a bounded number of prepared statements.
@Suite struct QueryStatementsTests {
    @Test func aStatementIsPreparedOnceAndTheLeastRecentlyUsedGivesWay() throws {
        let db = try DatabaseQueue()
        let (first, second, third, increment): (SQLText, SQLText, SQLText, SQLText) = ("SELECT 1", "SELECT 2", "SELECT 3", "SELECT ? + 1")
        try db.inDatabase { db in
            let statements = QueryStatements(capacity: 2)
            let one = try statements.statement(first, in: db)
            let two = try statements.statement(second, in: db)
            #expect(try statements.statement(first, in: db) === one)
            // "SELECT 2" is now the least recently used: the third statement takes its place.
            _ = try statements.statement(third, in: db)
            #expect(statements.count == 2)
            #expect(try statements.statement(first, in: db) === one)
            #expect(try statements.statement(second, in: db) !== two)
            #expect(try Int.fetchOne(statements.statement(increment, in: db), arguments: [41]) == 42)
            #expect(try Int.fetchOne(statements.statement(increment, in: db), arguments: [1]) == 2)
            statements.removeAll()
            #expect(statements.count == 0)
        }
        try db.close()
    }

    /// A statement's text is the literals it is joined from, and the same literals in the same order are the same key.
    @Test func sqlTextIsKeyedByItsLiterals() {
        func condition(_ equal: Bool) -> SQLText {
            var sql: SQLText = "SELECT count(*) FROM t WHERE "
            sql.append(equal ? "a = ?" : "a <> ?")
            return sql
        }
        var page: SQLText = "SELECT * FROM ("
        page.append(contentsOf: condition(true))
        page.append(")")
        #expect(page.text == "SELECT * FROM (SELECT count(*) FROM t WHERE a = ?)")
        #expect(condition(true) == condition(true))
        #expect(condition(true).hashValue == condition(true).hashValue)
        #expect(condition(true) != condition(false))
        #expect(condition(true).text != condition(false).text)
        // One-scalar literals have no bytes of their own: they are told apart by their scalar.
        let open: SQLText = "("
        let close: SQLText = ")"
        #expect(open != close)
        #expect(open.text + close.text == "()")
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
