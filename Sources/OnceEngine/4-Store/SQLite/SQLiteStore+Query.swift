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
        try await read(namespace, timeout: timeout, checking: { try body.query(in: namespace, types: $0) }) { db, statements, id, names, query in
            guard let namespace = id else { return QueryPage(profiles: [], nextCursor: nil) }
            // A range small enough drives the page from its matches; otherwise the page walks the profiles.
            let conjuncts = Self.conjuncts(of: query.filter)
            let small = try Self.smallestRange(of: conjuncts, under: Self.drivingLimit, names: names, statements: statements, db: db)
            var driver: Condition?
            if let small, case .condition(let condition) = conjuncts[small.offset] { driver = condition }
            var filter = SQLiteFilter(names: names, form: .probes(driver: driver))
            let condition = filter.sql(query.filter)
            let page = try statements.statement(Self.pageSQL(condition, byID: small.map { $0.size <= Self.lookupLimit } ?? false), in: db)
            let rows = try Row.fetchAll(page, arguments: StatementArguments([namespace, query.after ?? ""] + filter.arguments + [query.fetchLimit]))
            var profiles = rows.map { row in
                Profile(distinctID: row[1], properties: [],
                        createdAt: Date(epochMilliseconds: row[2]), updatedAt: Date(epochMilliseconds: row[3]))
            }
            // The one past the page only says that another follows: its properties are not read.
            if !profiles.isEmpty, query.properties != [] {
                try Self.loadProperties(into: &profiles, ids: rows.prefix(query.limit).map { $0[0] }, shown: query.properties, names: names, db: db)
            }
            return QueryPage(fetched: profiles, limit: query.limit)
        }
    }

    public func count(_ body: QueryBody, in namespace: Namespace, timeout: Duration) async throws -> Int {
        try await read(namespace, timeout: timeout, checking: { try body.countFilter(types: $0) }) { db, statements, id, names, filter in
            guard let namespace = id else { return 0 }
            // A condition every match meets drives the count from its own rows: a name's rows are one per
            // profile of its namespace, so no profile is looked up, and the rest is tested on `v.profile`.
            if let (driver, rest) = try Self.countDriver(in: filter, names: names, statements: statements, db: db) {
                var compiled = SQLiteFilter(names: names, subject: "v.profile")
                guard let rows = compiled.rows(of: driver) else { return 0 }
                let others = compiled.sql(.and(rest))
                return try Int.fetchOne(statements.statement("SELECT count(*) FROM (\(rows) AND \(others))", in: db),
                                        arguments: StatementArguments(compiled.arguments)) ?? 0
            }
            var compiled = SQLiteFilter(names: names)
            let condition = compiled.sql(filter)
            return try Int.fetchOne(statements.statement("SELECT count(*) FROM profiles p WHERE p.namespace = ? AND \(condition)", in: db),
                                    arguments: StatementArguments([namespace] + compiled.arguments)) ?? 0
        }
    }

    /// Fills in the properties of `profiles` (whose row ids are `ids`, in the
    /// same order) in one statement: only the names in `shown`, or all of them.
    private static func loadProperties(into profiles: inout [Profile], ids: [Int64], shown: Set<String>?,
                                       names: Names, db: Database) throws {
        // Names by id from the namespace's list, ranked in byte order: no join, no string
        // comparisons per row, and a dropped name's rows (still to be reclaimed) are skipped.
        let ranked = names.filter { shown?.contains($0.key) ?? true }.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        var byID: [Int64: (rank: Int, type: PropertyType)] = [:]
        for (rank, name) in ranked.enumerated() { byID[name.value.id] = (rank, name.value.type) }
        let offsets = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($0.element, $0.offset) })
        let statement = try db.cachedStatement(sql: """
            SELECT v.profile, v.name, v.value, v.text FROM properties v WHERE v.profile IN (SELECT value FROM json_each(?))\
            \(shown == nil ? "" : " AND v.name IN (SELECT value FROM json_each(?))") ORDER BY v.profile
            """)
        // The primary key (profile, name) hands each profile's rows over together, so one is gathered at a time.
        var current: (id: Int64, offset: Int)?
        var values: [(rank: Int, value: PropertyValue)] = []
        func finish() {
            guard let current else { return }
            values.sort { $0.rank < $1.rank }
            profiles[current.offset].properties = values.map { (ranked[$0.rank].key, $0.value) }
            values.removeAll(keepingCapacity: true)
        }
        try SQLiteBinder.forEachRow(statement, in: db, { binder in
            binder.text(JSON.array(ids.map { .integer($0) }).text)
            if shown != nil { binder.text(JSON.array(byID.keys.map { .integer($0) }).text) }
        }) { row in
            guard let name = byID[sqlite3_column_int64(row, 1)] else { return }
            let id = sqlite3_column_int64(row, 0)
            if id != current?.id {
                finish()
                guard let offset = offsets[id] else { throw StoreError.corrupt("a value of profile \(id), which the page does not hold") }
                current = (id, offset)
            }
            values.append((name.rank, try StoredValue.value(of: name.type, in: row, at: 2)))
        }
        finish()
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

    /// Profiles a condition may match and still drive a page: past this, a
    /// page walks the profiles in distinct_id order instead, and meets its
    /// 100 matches within 100 × (profiles / this) probes. Driven, the walk
    /// tests each profile against the list of its matches (~25 ns, a probe ~0.8 µs).
    static let drivingLimit = 10_000

    /// Matches few enough that a driven page looks them up by id and sorts
    /// them (~0.8 µs each) rather than walk: at a million profiles 2,000 cost
    /// about what the walk to 100 of them does, and a page of none walked all.
    static let lookupLimit = 2_000

    /// The page's statement, `condition` its filter. With `byID`, the `+`s
    /// keep SQLite from walking `profiles_by_distinct_id` in order (its choice
    /// otherwise), so it looks the driver's matches up by id: a page of one
    /// match among 200,000 profiles took 17 ms walking, 0.3 ms so.
    static func pageSQL(_ condition: String, byID: Bool) -> String {
        let unindexed = byID ? "+" : ""
        return """
            SELECT p.id, p.distinct_id, p.created_at, p.updated_at FROM profiles p
            WHERE \(unindexed)p.namespace = ? AND \(unindexed)p.distinct_id > ? AND \(condition) ORDER BY p.distinct_id LIMIT ?
            """
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
            guard case .condition(let condition) = conjunct, SQLiteFilter.ranges(condition.test) else { continue }
            var sizing = SQLiteFilter(names: names)
            guard let rows = sizing.rows(of: condition) else { continue }
            let bound = [limit, smallest?.size].compactMap { $0 }.min()
            // The bound is an argument (-1: none), so one statement serves every bound.
            let size = try Int.fetchOne(statements.statement("SELECT count(*) FROM (\(rows) LIMIT ?)", in: db),
                                        arguments: StatementArguments(sizing.arguments + [bound ?? -1])) ?? 0
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
                                            _ run: @escaping @Sendable (Database, QueryStatements, Int64?, Names, Checked) throws -> T) async throws -> T {
        let deadline = DispatchTime.now().uptimeNanoseconds &+ UInt64(max(0, timeout.nanoseconds))
        let onCaller = UInt64(max(0, queryTimeOnCaller.nanoseconds))
        let queryNames = self.queryNames
        return try await queries.answer { db, statements, attempt in
            let (id, names) = try queryNames.read(namespace, in: db, statements: statements)
            let checked = try check(names.mapValues(\.type))
            let stop = attempt == .caller ? min(deadline, DispatchTime.now().uptimeNanoseconds &+ onCaller) : deadline
            let limit = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
            limit.initialize(to: stop)
            sqlite3_progress_handler(db.sqliteConnection, 4096, { context in
                DispatchTime.now().uptimeNanoseconds > context!.load(as: UInt64.self) ? 1 : 0
            }, limit)
            defer {
                sqlite3_progress_handler(db.sqliteConnection, 0, nil, nil)
                limit.deallocate()
            }
            do {
                return try run(db, statements, id, names, checked)
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
