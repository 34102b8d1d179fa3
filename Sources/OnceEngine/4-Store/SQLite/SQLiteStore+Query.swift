import Foundation
import GRDB
import GRDBSQLite

/// SPEC §8 on SQLite: each query and count is one read transaction on the
/// ``QueryThread``'s connection (a WAL snapshot, so it never blocks the
/// writer): on the caller's thread for its first ``Options/queryTimeOnCaller``,
/// then, if it has not finished, anew on the query thread, at a CPU priority
/// below the writes'. A progress handler stops it once past its time limit,
/// which counts from when it was asked (waiting included).
extension SQLiteStore {
    /// The registered names of a namespace by name: their ids and types.
    typealias Names = [String: (id: Int64, type: PropertyType)]

    public func page(_ body: QueryBody, in namespace: Namespace, timeout: Duration) async throws -> QueryPage {
        let walkBudget = max(0, pageWalkSteps / Int(QueryProgress.interval))
        let carried = CarriedRows()
        return try await read(namespace, timeout: timeout, checking: { try body.query(in: namespace, types: $0) }) { db, statements, kept, query, progress in
            guard let namespace = kept.id else { return QueryPage(profiles: [], nextCursor: nil) }
            var page = carried.take() ?? PageRows(limit: query.fetchLimit)
            do {
                try Self.fill(&page, query, namespace: namespace, walkBudget: walkBudget, names: kept.names, progress: progress,
                              statements: statements, db: db)
                var shown = QueryPage(fetched: page.profiles, limit: query.limit)
                // The one past the page only says that another follows: its properties are not read. Rows read in an
                // earlier snapshot are read again whatever is shown, so that a profile erased since is left out.
                if !shown.profiles.isEmpty, query.properties != [] || page.earlier > 0 {
                    try Self.loadProperties(into: &shown.profiles, ids: page.ids.prefix(query.limit), shown: query.properties,
                                            names: kept, statements: statements, db: db)
                }
                return shown
            } catch {
                carried.keep(page)
                throw error
            }
        }
    }

    public func count(_ body: QueryBody, in namespace: Namespace, timeout: Duration) async throws -> Int {
        try await read(namespace, timeout: timeout, checking: { try body.countFilter(types: $0) }) { db, statements, kept, filter, _ in
            let names = kept.names
            guard let namespace = kept.id else { return 0 }
            // A condition every match meets drives the count from its own rows: a name's rows are one per
            // profile of its namespace, so no profile is looked up, and the rest is tested on `v.profile`.
            if let (driver, rest) = try Self.countDriver(in: filter, names: names, statements: statements, db: db) {
                var compiled = SQLiteFilter(names: names, subject: "v.profile")
                guard let rows = compiled.rows(of: driver) else { return 0 }
                var sql: SQLText = "SELECT count(*) FROM ("
                sql.append(contentsOf: rows)
                sql.append(" AND ")
                compiled.sql(.and(rest), into: &sql)
                sql.append(")")
                return try Self.count(statements.statement(sql, in: db), arguments: compiled.arguments, db: db)
            }
            var compiled = SQLiteFilter(names: names)
            var sql: SQLText = "SELECT count(*) FROM profiles p WHERE p.namespace = ? AND "
            compiled.sql(filter, into: &sql)
            return try Self.count(statements.statement(sql, in: db), arguments: [.integer(namespace)] + compiled.arguments, db: db)
        }
    }

    /// Fills in the properties of `profiles` (whose row ids are `ids`, in the
    /// same order): only the names in `shown`, or all of them, read from
    /// each profile's `props` in place; a profile whose row is gone (erased
    /// since an earlier snapshot read it) is removed. One kept statement,
    /// stepped once per profile, where a list of the page's ids in JSON was
    /// built and read through `json_each` for every page.
    static func loadProperties(into profiles: inout [Profile], ids: ArraySlice<Int64>, shown: Set<String>?,
                               names: QueryNames.Read, statements: QueryStatements, db: Database) throws {
        let ranked = names.ranked
        // The ranks shown, when not all are; a name dropped (its rows still to be reclaimed) has none.
        let visible = shown.map { shown in
            var visible = [Bool](repeating: false, count: ranked.names.count)
            for name in shown { if let id = names.names[name]?.id, let rank = ranked.rankByID[id] { visible[rank] = true } }
            return visible
        }
        let statement = try statements.statement("SELECT props FROM profiles WHERE id = ?", in: db)
        var values: [(rank: Int, value: PropertyValue)] = []
        var gone: [Int] = []
        for (offset, id) in zip(profiles.indices, ids) {
            var found = false
            try SQLiteBinder.forEachRow(statement, in: db, { $0.integer(id) }) { row in
                found = true
                let blob = StoredValue.blob(row, 0)
                try PackedValues.forEach(in: blob) { entry in
                    guard let rank = ranked.rankByID[entry.name], visible?[rank] ?? true else { return }
                    values.append((rank, try PackedValues.value(entry, as: ranked.names[rank].type, in: blob)))
                }
            }
            if !found { gone.append(offset) }
            values.sort { $0.rank < $1.rank }
            profiles[offset].properties = values.map { (ranked.names[$0.rank].name, $0.value) }
            values.removeAll(keepingCapacity: true)
        }
        for offset in gone.reversed() { profiles.remove(at: offset) }
    }

    /// The condition a count is driven from, and the others: the range of
    /// ``conjuncts(of:)`` matching the fewest profiles, else the first
    /// condition with rows to read. Nil when there is none (an `or` or `not`
    /// at the top, or only `not_set`).
    private static func countDriver(in filter: Filter, names: Names, statements: QueryStatements,
                                    db: Database) throws -> (driver: Condition, rest: [Filter])? {
        let conjuncts = conjuncts(of: filter)
        // Alone, a condition needs no sizing.
        let smallest = conjuncts.count > 1 ? try smallestRange(of: conjuncts, under: nil, names: names, statements: statements, db: db) : nil
        let hasRows = { (filter: Filter) in if case .condition(let condition) = filter { condition.test != .notSet } else { false } }
        guard let chosen = smallest?.offset ?? conjuncts.firstIndex(where: hasRows),
              case .condition(let driver) = conjuncts[chosen] else { return nil }
        var rest = conjuncts
        rest.remove(at: chosen)
        return (driver, rest)
    }

    /// Reads `page` to its limit by the cheapest plan found: a condition of
    /// few matches joined to, or a walk in distinct_id order (see
    /// ``Options/pageWalkSteps``). Each plan goes on after the rows read so far.
    private static func fill(_ page: inout PageRows, _ query: ProfileQuery, namespace: Int64, walkBudget: Int, names: Names,
                             progress: QueryProgress, statements: QueryStatements, db: Database) throws {
        guard page.profiles.count < page.limit else { return }
        let conjuncts = conjuncts(of: query.filter)
        func walk(_ form: SQLiteFilter.Form) throws {
            try Self.walk(form, query.filter, namespace: namespace, after: page.cursor ?? query.after ?? "", into: &page,
                          names: names, statements: statements, db: db)
        }
        // A condition of few matches is joined to: its rows, their profiles by id, sorted.
        if let small = try smallestRange(of: conjuncts, under: lookupLimit + 1, names: names, statements: statements, db: db),
           case .condition(let condition) = conjuncts[small.offset] {
            try walk(.joined(driver: condition))
        } else if !conjuncts.contains(where: isRange) {
            try walk(.probes(driver: nil))
        } else if try !progress.budgeted(walkBudget, { try walk(.probes(driver: nil)) }) {
            // The walk ran out of steps. Past half its page, the rest costs about what that half did: it walks
            // on. Otherwise it goes on tested against the list of a condition's matches if one has few enough.
            let small = page.profiles.count * 2 >= page.limit ? nil
                : try smallestRange(of: conjuncts, under: drivingLimit, names: names, statements: statements, db: db)
            try walk(.probes(driver: small.flatMap { if case .condition(let driver) = conjuncts[$0.offset] { driver } else { nil } }))
        }
    }

    /// A page's rows as they are read: each profile's row id, to read its properties by, and its columns.
    struct PageRows {
        /// The page's size and one more, which only says that another page follows.
        let limit: Int
        var ids: [Int64] = []
        var profiles: [Profile] = []
        /// How many were read in an earlier attempt's snapshot.
        var earlier = 0
        /// The last distinct_id read: where a plan goes on from.
        var cursor: String? { profiles.last?.distinctID }
    }

    /// The rows a page's attempt on its caller's thread read before it gave
    /// way (``QueryThread/GiveWay``): the query thread's attempt goes on after
    /// them instead of reading them again, a boundary between two snapshots
    /// like the one between two pages. (Read anew, they had been a fifth of a
    /// 10 % date range's page: its first 250 µs.) One attempt touches it at a
    /// time: the caller's ends before the query thread's begins.
    final class CarriedRows: @unchecked Sendable {
        private var rows: PageRows?

        func keep(_ page: PageRows) {
            rows = page
        }

        func take() -> PageRows? {
            defer { rows = nil }
            return rows.map { page in
                var page = page
                page.earlier = page.profiles.count
                return page
            }
        }
    }

    /// Appends to `page`, up to its limit, the profiles after `cursor` that
    /// match `filter`, read as `form` plans.
    private static func walk(_ form: SQLiteFilter.Form, _ filter: Filter, namespace: Int64, after cursor: String,
                             into page: inout PageRows, names: Names, statements: QueryStatements, db: Database) throws {
        let wanted = page.limit - page.profiles.count
        guard wanted > 0 else { return }
        var driving = SQLiteFilter(names: names)
        var rows: SQLText?
        var form = form
        if case .joined(let driver) = form {
            rows = driving.rows(of: driver, profiles: true)
            if rows == nil { form = .probes(driver: nil) }  // only a condition with rows is sized as small
        }
        var compiled = SQLiteFilter(names: names, form: form)
        var condition = SQLText()
        compiled.sql(filter, into: &condition)
        let statement = try statements.statement(rows.map { pageSQL(condition, joinedTo: $0) } ?? pageSQL(condition), in: db)
        // In the text's order: the joined rows' arguments, the namespace and cursor, the filter's, the limit.
        try SQLiteBinder.forEachRow(statement, in: db, limit: wanted, { binder in
            driving.arguments.forEach { binder.argument($0) }
            binder.integer(namespace)
            binder.text(cursor)
            compiled.arguments.forEach { binder.argument($0) }
            if rows == nil { binder.integer(Int64(wanted)) }
        }) { row in
            page.ids.append(sqlite3_column_int64(row, 0))
            page.profiles.append(Profile(distinctID: StoredValue.text(row, 1), properties: [],
                                         createdAt: Date(epochMilliseconds: sqlite3_column_int64(row, 2)),
                                         updatedAt: Date(epochMilliseconds: sqlite3_column_int64(row, 3))))
        }
    }

    /// Whether `filter` is a condition whose size ``smallestRange(of:under:names:statements:db:)`` can bound.
    private static func isRange(_ filter: Filter) -> Bool {
        if case .condition(let condition) = filter { SQLiteFilter.ranges(condition.test) } else { false }
    }

    /// Profiles a condition may match and still drive a page: past this, a
    /// page walks the profiles in distinct_id order instead, and meets its
    /// 100 matches within 100 × (profiles / this) probes. Driven, the walk
    /// tests each profile against the list of its matches (~25 ns, a probe ~0.8 µs).
    static let drivingLimit = 10_000

    /// Matches few enough that a driven page looks them up by id and sorts
    /// them (~0.8 µs each) rather than walk: at a million profiles 2,000 cost
    /// about what the walk to 100 of them does, and a page of none walked all.
    static let lookupLimit = 2_000

    /// The page's statement, walking the profiles in distinct_id order,
    /// `condition` its filter: it stops after its last match (`LIMIT`).
    static func pageSQL(_ condition: SQLText) -> SQLText {
        var sql: SQLText = "SELECT p.id, p.distinct_id, p.created_at, p.updated_at FROM profiles p WHERE p.namespace = ? AND p.distinct_id > ? AND "
        sql.append(contentsOf: condition)
        sql.append(" ORDER BY p.distinct_id LIMIT ?")
        return sql
    }

    /// The page's statement driven by `rows` (a small condition's
    /// profiles): each is looked up by id, and the `+`s keep SQLite from
    /// walking `profiles_by_distinct_id` in order instead (its choice
    /// otherwise: a page of one match among 200,000 profiles took 17 ms so, 0.3
    /// ms by id). A join, not `p.id IN (…)`, and no `LIMIT` (the caller stops
    /// reading): either made SQLite open a temporary B-tree (for the list, for
    /// the best rows so far), which doubled a one-profile page's time in SQLite
    /// (9.3 µs against 4.9 µs without them, in C).
    static func pageSQL(_ condition: SQLText, joinedTo rows: SQLText) -> SQLText {
        var sql: SQLText = "SELECT p.id, p.distinct_id, p.created_at, p.updated_at FROM ("
        sql.append(contentsOf: rows)
        sql.append(") d JOIN profiles p ON p.id = d.profile WHERE +p.namespace = ? AND +p.distinct_id > ? AND ")
        sql.append(contentsOf: condition)
        sql.append(" ORDER BY p.distinct_id")
        return sql
    }

    /// The one integer `statement` answers, bound to `arguments` through the C
    /// API (``SQLiteBinder``), not GRDB's `StatementArguments`, which boxed each.
    private static func count(_ statement: Statement, arguments: [SQLiteBinder.Argument], db: Database) throws -> Int {
        try Int(SQLiteBinder.integer(statement, in: db) { binder in arguments.forEach { binder.argument($0) } } ?? 0)
    }

    /// The conditions every match must meet: the filter itself, or its top-level `and`'s.
    private static func conjuncts(of filter: Filter) -> [Filter] {
        if case .and(let filters) = filter { filters } else { [filter] }
    }

    /// Of `conjuncts`, the range condition matching the fewest profiles (its
    /// offset and size) if that is under `limit`: each is sized by a count of
    /// its index range, bounded by `limit` and by the smallest so far.
    private static func smallestRange(of conjuncts: [Filter], under limit: Int?, names: Names, statements: QueryStatements,
                                      db: Database) throws -> (offset: Int, size: Int)? {
        var smallest: (offset: Int, size: Int)?
        for (offset, conjunct) in conjuncts.enumerated() {
            guard isRange(conjunct), case .condition(let condition) = conjunct else { continue }
            var sizing = SQLiteFilter(names: names)
            guard let rows = sizing.rows(of: condition) else { continue }
            var sql: SQLText = "SELECT count(*) FROM ("
            sql.append(contentsOf: rows)
            sql.append(" LIMIT ?)")
            let bound = [limit, smallest?.size].compactMap { $0 }.min()
            // The bound is an argument (-1: none), so one statement serves every bound.
            let size = try count(statements.statement(sql, in: db), arguments: sizing.arguments + [.integer(Int64(bound ?? -1))], db: db)
            if size < bound ?? .max { smallest = (offset, size) }
        }
        return smallest
    }

    /// `run` in a read transaction, given the namespace's id (nil before its
    /// first write), its names, and what `check` made of the body against
    /// their types. SQLite interrupts `run` once `timeout` has passed (its
    /// progress handler runs every few thousand VM steps), or on the caller's
    /// thread once its time there has passed; reading the names and checking the
    /// body are not interrupted, so a bad body is a 400 however long it
    /// waited behind other queries.
    private func read<Checked, T: Sendable>(_ namespace: Namespace, timeout: Duration,
                                            checking check: @escaping @Sendable ([String: PropertyType]) throws -> Checked,
                                            _ run: @escaping @Sendable (Database, QueryStatements, QueryNames.Read, Checked, QueryProgress) throws -> T) async throws -> T {
        let deadline = DispatchTime.now().uptimeNanoseconds &+ UInt64(max(0, timeout.nanoseconds))
        let onCaller = UInt64(max(0, queryTimeOnCaller.nanoseconds))
        let queryNames = self.queryNames
        return try await queries.answer { db, statements, attempt in
            let kept = try queryNames.read(namespace, in: db, statements: statements)
            let checked = try check(kept.types)
            let stop = attempt == .caller ? min(deadline, DispatchTime.now().uptimeNanoseconds &+ onCaller) : deadline
            let progress = QueryProgress(stoppingAt: stop, on: db)
            defer { progress.remove(from: db) }
            do {
                return try run(db, statements, kept, checked, progress)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_INTERRUPT && stop < deadline
                                                      && DispatchTime.now().uptimeNanoseconds < deadline {
                // Past its time on the caller's thread, not its time limit. The statement stopped
                // is reset before it is bound again: the query thread runs it anew, as it is.
                throw QueryThread.GiveWay()
            } catch {
                // A statement whose step failed may not reset cleanly (`sqlite3_reset`): none is kept past a failure.
                statements.removeAll()
                if let error = error as? DatabaseError, error.resultCode == .SQLITE_INTERRUPT { throw StoreError.queryTimeout }
                throw error
            }
        }
    }
}
