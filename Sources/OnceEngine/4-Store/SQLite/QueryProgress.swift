import Foundation
import GRDB
import GRDBSQLite

/// What SQLite's progress handler checks while a query's statements run (every
/// ``interval`` VM steps): the query's time limit, and the budget of a walk
/// that is tried before its alternative is sized (``budgeted(_:_:)``). A step
/// budget, not a time, so a plan does not depend on the machine's speed.
final class QueryProgress {
    /// VM steps between two calls of the handler.
    static let interval: Int32 = 4096

    /// `DispatchTime` nanoseconds past which the statement is interrupted.
    private let stop: UInt64
    /// Calls left before a budgeted walk is stopped; nil outside one.
    private var callsLeft: Int?
    private(set) var budgetSpent = false

    /// Installs the handler on `db` until ``remove(from:)``.
    init(stoppingAt stop: UInt64, on db: Database) {
        self.stop = stop
        sqlite3_progress_handler(db.sqliteConnection, Self.interval, { context in
            Unmanaged<QueryProgress>.fromOpaque(context!).takeUnretainedValue().interrupts() ? 1 : 0
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    func remove(from db: Database) {
        sqlite3_progress_handler(db.sqliteConnection, 0, nil, nil)
    }

    /// Runs `walk` for at most `calls` × ``interval`` VM steps: true if it
    /// finished, false if its budget stopped it first (what it read until
    /// then stays read). A time limit reached is thrown as usual.
    func budgeted(_ calls: Int, _ walk: () throws -> Void) throws -> Bool {
        callsLeft = calls
        budgetSpent = false
        defer { callsLeft = nil }
        do {
            try walk()
            return true
        } catch let error as DatabaseError where error.resultCode == .SQLITE_INTERRUPT && budgetSpent {
            // A read-only statement interrupted is halted without a rollback: the transaction's snapshot stays.
            return false
        }
    }

    private func interrupts() -> Bool {
        if DispatchTime.now().uptimeNanoseconds > stop { return true }
        guard let left = callsLeft else { return false }
        if left == 0 {
            budgetSpent = true
            return true
        }
        callsLeft = left - 1
        return false
    }
}
