import PostgresNIO

extension PostgresSession {
    /// Keeps every statement far below PostgreSQL's 65,535 parameters.
    static let maxRowsPerStatement = 1000

    /// Runs `head` + `VALUES`-style tuples + `tail` over `rows`, one statement per
    /// ``maxRowsPerStatement`` of them, and returns the rows every statement returned.
    /// `bind` appends one row's values and returns its tuple of placeholders, the first being `$first`.
    func insert<Row>(_ rows: some Collection<Row>, head: String, tail: String = "",
                     bind: (Row, _ first: Int, inout PostgresBindings) -> String) throws -> [PostgresRow] {
        var returned: [PostgresRow] = []
        var rest = rows[...]
        while !rest.isEmpty {
            let chunk = rest.prefix(Self.maxRowsPerStatement)
            rest = rest.dropFirst(chunk.count)
            var binds = PostgresBindings(capacity: 12 * chunk.count)
            let tuples = chunk.map { bind($0, binds.count + 1, &binds) }
            returned += try run(head + tuples.joined(separator: ", ") + tail, binds: binds).rows
        }
        return returned
    }
}
