import Foundation
import GRDB
import GRDBSQLite
import Testing
@testable import OnceEngine

/// The progress handler's two stops: a walk's step budget, which ends the
/// walk and keeps what it read, and the time limit, which ends the query.
@Suite struct QueryProgressTests {
    static let numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) SELECT i FROM n WHERE i % 1000 = 0"

    @Test func aBudgetedWalkStopsWithWhatItReadAndItsTransactionReadsOn() throws {
        let queue = try DatabaseQueue()
        try queue.inDatabase { db in
            try db.execute(sql: "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)")
            try db.execute(sql: "BEGIN DEFERRED")
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM t") == 2)
            let progress = QueryProgress(stoppingAt: .max, on: db)
            defer { progress.remove(from: db) }
            let statement = try db.makeStatement(sql: Self.numbers)
            var read: [Int64] = []
            func walk(to last: Int64) throws {
                try SQLiteBinder.forEachRow(statement, in: db, { $0.integer(last) }) { read.append(sqlite3_column_int64($0, 0)) }
            }
            #expect(try !progress.budgeted(10) { try walk(to: 100_000_000) })
            #expect(progress.budgetSpent)
            // It read in order until stopped, well short of the end.
            #expect(!read.isEmpty && read.count < 1000, "\(read.count)")
            #expect(read == (1...read.count).map { Int64($0 * 1000) })
            // The transaction is still open, and the statement runs anew to its end within a budget large enough.
            #expect(db.isInsideTransaction)
            read = []
            #expect(try progress.budgeted(1000) { try walk(to: 5000) })
            #expect(read == [1000, 2000, 3000, 4000, 5000])
            // Outside a budget, nothing stops it.
            read = []
            try walk(to: 200_000)
            #expect(read.count == 200)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM t") == 2)
            try db.execute(sql: "COMMIT")
        }
    }

    @Test func theTimeLimitStopsABudgetedWalkAsAnyStatement() throws {
        let queue = try DatabaseQueue()
        try queue.inDatabase { db in
            let progress = QueryProgress(stoppingAt: 0, on: db)
            defer { progress.remove(from: db) }
            let statement = try db.makeStatement(sql: Self.numbers)
            let error = #expect(throws: DatabaseError.self) {
                _ = try progress.budgeted(1_000_000) {
                    try SQLiteBinder.forEachRow(statement, in: db, { $0.integer(100_000_000) }) { _ in }
                }
            }
            #expect(error?.resultCode == .SQLITE_INTERRUPT)
            #expect(!progress.budgetSpent)
        }
    }
}
