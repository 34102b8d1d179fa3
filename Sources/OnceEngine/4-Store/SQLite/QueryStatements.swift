import GRDB

/// The query connection's prepared statements, by SQL (``SQLText``), at
/// most `capacity` of them, the least recently used one giving way.
///
/// A query's statements depend on its filter's shape only (values are bound),
/// so a dashboard asking the same questions prepares each once: preparing was
/// a quarter of a one-profile query's CPU. GRDB's own cache keeps every
/// statement forever, and a daemon's clients can send filters of endless
/// shapes. Used on the query thread only.
final class QueryStatements {
    private let capacity: Int
    private var statements: [SQLText: (statement: Statement, used: Int)] = [:]
    private var uses = 0

    init(capacity: Int = 64) {
        self.capacity = capacity
    }

    /// `sql` prepared on `db`, the one prepared before if it is still here.
    func statement(_ sql: SQLText, in db: Database) throws -> Statement {
        uses += 1
        if let kept = statements[sql] {
            statements[sql]!.used = uses
            return kept.statement
        }
        if statements.count >= capacity, let oldest = statements.min(by: { $0.value.used < $1.value.used }) {
            statements[oldest.key] = nil
        }
        let statement = try db.makeStatement(sql: sql.text)
        statements[sql] = (statement, uses)
        return statement
    }

    /// Finalizes them all: a connection closes only once none is left.
    func removeAll() {
        statements = [:]
    }

    var count: Int { statements.count }
}
