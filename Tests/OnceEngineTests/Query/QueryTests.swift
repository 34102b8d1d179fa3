import Foundation
import GRDB
import Testing
import TestSupport
@testable import OnceEngine

/// SPEC §8 against every store: each operator on each type it takes, with
/// answers worked out by hand from a small namespace.
@Suite struct QueryTests {
    let namespace = TestEngine.namespace

    /// Six profiles; `Zed` and `émile` test byte order (uppercase first, non-ASCII last).
    static let people: [(String, String)] = [
        ("ada", #"{"$set": {"plan": "pro", "seats": 3, "beta": true, "signup": "2024-03-01T10:00:00Z", "tags": ["beta", 1, "2024-01-01"], "name": "Ada Lovelace"}}"#),
        ("bob", #"{"$set": {"plan": "free", "seats": 1.5, "beta": false, "signup": "2023-12-31", "tags": ["x", 2.0]}}"#),
        ("cy", #"{"$set": {"plan": "pro", "seats": 10, "signup": "2024-11-05T00:30:00+01:00", "name": "Cy Young"}}"#),
        ("dee", #"{"$set": {"city": "Oslo"}}"#),
        ("Zed", #"{"$set": {"plan": "Pro", "seats": 2, "tags": ["2024-01-01T01:00:00+01:00"], "name": "Zed"}}"#),
        ("émile", #"{"$set": {"plan": "team", "seats": -1, "beta": true, "name": "Émile"}}"#),
    ]

    static let cases: [(filter: String, matches: [String])] = [
        (#"{}"#, ["Zed", "ada", "bob", "cy", "dee", "émile"]),
        (#"{"property": "plan", "op": "eq", "value": "pro"}"#, ["ada", "cy"]),
        (#"{"property": "plan", "op": "ne", "value": "pro"}"#, ["Zed", "bob", "émile"]),
        (#"{"not": {"property": "plan", "op": "eq", "value": "pro"}}"#, ["Zed", "bob", "dee", "émile"]),
        (#"{"property": "plan", "op": "lt", "value": "pro"}"#, ["Zed", "bob"]),
        (#"{"property": "plan", "op": "gte", "value": "pro"}"#, ["ada", "cy", "émile"]),
        (#"{"property": "plan", "op": "in", "value": ["free", "team", "enterprise"]}"#, ["bob", "émile"]),
        (#"{"property": "plan", "op": "in", "value": []}"#, []),
        (#"{"property": "name", "op": "contains", "value": "o"}"#, ["ada", "cy"]),
        (#"{"property": "name", "op": "contains", "value": ""}"#, ["Zed", "ada", "cy", "émile"]),
        (#"{"property": "name", "op": "starts_with", "value": "Ad"}"#, ["ada"]),
        (#"{"property": "name", "op": "starts_with", "value": "É"}"#, ["émile"]),
        (#"{"property": "seats", "op": "eq", "value": 3.0}"#, ["ada"]),
        (#"{"property": "seats", "op": "gt", "value": 1.5}"#, ["Zed", "ada", "cy"]),
        (#"{"property": "seats", "op": "lte", "value": 1.5}"#, ["bob", "émile"]),
        (#"{"property": "seats", "op": "in", "value": [2, 10.0, 7]}"#, ["Zed", "cy"]),
        (#"{"property": "seats", "op": "ne", "value": 10}"#, ["Zed", "ada", "bob", "émile"]),
        (#"{"property": "beta", "op": "eq", "value": true}"#, ["ada", "émile"]),
        (#"{"property": "beta", "op": "ne", "value": true}"#, ["bob"]),
        // Dates by instant: cy's 2024-11-05T00:30+01:00 is 2024-11-04T23:30Z.
        (#"{"property": "signup", "op": "lt", "value": "2024-11-05"}"#, ["ada", "bob", "cy"]),
        (#"{"property": "signup", "op": "eq", "value": "2024-11-04T23:30:00.000Z"}"#, ["cy"]),
        (#"{"property": "signup", "op": "gte", "value": "2024-01-01"}"#, ["ada", "cy"]),
        (#"{"property": "signup", "op": "in", "value": ["2023-12-31T00:00:00Z", "2020-01-01"]}"#, ["bob"]),
        // Lists hold elements by SPEC §2's equality: 2 is 2.0, a date by its instant.
        (#"{"property": "tags", "op": "contains", "value": "beta"}"#, ["ada"]),
        (#"{"property": "tags", "op": "contains", "value": 2}"#, ["bob"]),
        (#"{"property": "tags", "op": "contains", "value": 1.0}"#, ["ada"]),
        (#"{"property": "tags", "op": "contains", "value": "2024-01-01T00:00:00Z"}"#, ["Zed", "ada"]),
        (#"{"property": "tags", "op": "is_set"}"#, ["Zed", "ada", "bob"]),
        (#"{"property": "tags", "op": "not_set"}"#, ["cy", "dee", "émile"]),
        (#"{"property": "nobody", "op": "eq", "value": 1}"#, []),
        (#"{"property": "nobody", "op": "not_set"}"#, ["Zed", "ada", "bob", "cy", "dee", "émile"]),
        (#"{"property": "nobody", "op": "is_set"}"#, []),
        (#"{"and": [{"property": "plan", "op": "eq", "value": "pro"}, {"property": "signup", "op": "gte", "value": "2024-01-01"}, {"property": "tags", "op": "contains", "value": "beta"}]}"#, ["ada"]),
        (#"{"or": [{"property": "city", "op": "eq", "value": "Oslo"}, {"property": "seats", "op": "lt", "value": 0}]}"#, ["dee", "émile"]),
        // A count is driven by one of an `and`'s conditions: the smallest range, else the first with rows.
        (#"{"and": [{"property": "seats", "op": "gt", "value": 1.5}, {"property": "nobody", "op": "eq", "value": 1}]}"#, []),
        (#"{"and": [{"property": "plan", "op": "not_set"}, {"property": "city", "op": "is_set"}]}"#, ["dee"]),
        (#"{"and": [{"property": "seats", "op": "gt", "value": 1.5}, {"or": [{"property": "plan", "op": "eq", "value": "pro"}, {"property": "tags", "op": "is_set"}]}]}"#, ["Zed", "ada", "cy"]),
        (#"{"and": [{"property": "plan", "op": "gte", "value": "pro"}, {"property": "seats", "op": "gt", "value": 1.5}, {"not": {"property": "beta", "op": "eq", "value": true}}]}"#, ["cy"]),
        (#"{"and": []}"#, ["Zed", "ada", "bob", "cy", "dee", "émile"]),
        (#"{"or": []}"#, []),
        (#"{"not": {"or": [{"property": "plan", "op": "is_set"}, {"not": {"property": "city", "op": "is_set"}}]}}"#, ["dee"]),
    ]

    /// A list `contains` of a string finds exactly the lists holding that element, whatever its
    /// neighbours, escapes or spelling inside the list's JSON text (SQLite looks for it there first).
    @Test(arguments: StoreKind.allCases)
    func aListContainsOfAStringIsExact(store: StoreKind) async throws {
        let test = try await TestEngine(store)
        let lists = [
            "p1": #"["t-7x"]"#, "p2": #"["x\"t-7"]"#, "p3": #"["a", "t-7"]"#, "p4": #"["x/y"]"#,
            "p5": #"["a\"b", "c\\d"]"#, "p6": #"["é"]"#, "p7": #"[7, "t-7 "]"#, "p8": #"["T-7", "\"t-7\""]"#,
        ]
        for (distinctID, list) in lists { try await test.submit(#"{"$set": {"tags": \#(list)}}"#, distinctID: distinctID) }
        for (element, expected) in [(#""t-7""#, ["p3"]), (#""x\"t-7""#, ["p2"]), (#""x/y""#, ["p4"]), (#""a\"b""#, ["p5"]),
                                    (#""c\\d""#, ["p5"]), (#""é""#, ["p6"]), (#""\"t-7\"""#, ["p8"]), (#""t-7 ""#, ["p7"]), (#""7""#, [])] {
            let body = #"{"where": {"property": "tags", "op": "contains", "value": \#(element)}}"#
            let page = try await test.engine.query(try JSONParser.parse(body), in: namespace, timeout: .seconds(30))
            #expect(page.profiles.map(\.distinctID) == expected, "\(element)")
            #expect(try await test.engine.count(try JSONParser.parse(body), in: namespace, timeout: .seconds(30)) == expected.count, "\(element)")
        }
        try await test.engine.close()
    }

    @Test(arguments: StoreKind.allCases)
    func everyOperatorOnEveryType(store: StoreKind) async throws {
        let test = try await TestEngine(store)
        for (distinctID, body) in Self.people { try await test.submit(body, distinctID: distinctID) }
        for (filter, expected) in Self.cases {
            let body = #"{"where": \#(filter)}"#
            let page = try await test.engine.query(try JSONParser.parse(body), in: namespace, timeout: .seconds(30))
            #expect(page.profiles.map(\.distinctID) == expected, "\(filter)")
            #expect(page.nextCursor == nil)
            #expect(try await test.engine.count(try JSONParser.parse(body), in: namespace, timeout: .seconds(30)) == expected.count, "\(filter)")
        }
        // Each profile as GET shows it.
        let page = try await test.engine.query(try JSONParser.parse(#"{"where": {"property": "plan", "op": "eq", "value": "pro"}}"#),
                                               in: namespace, timeout: .seconds(30))
        #expect(page.profiles.first == (try await test.profile("ada")).map { profile in
            var shown = profile
            shown.lastChangedBy = [:]
            return shown
        })
        try await test.engine.close()
    }

    @Test(arguments: StoreKind.allCases)
    func pagesVisitEveryMatchOnceInByteOrder(store: StoreKind) async throws {
        let test = try await TestEngine(store)
        let ids = (0..<23).map { "user-\($0)" } + ["Ω", "a b", "a%2F"]
        for (index, id) in ids.enumerated() {
            try await test.submit(#"{"$set": {"n": \#(index), "plan": "\#(index % 2 == 0 ? "pro" : "free")"}}"#, distinctID: id)
        }
        var seen: [String] = []
        var cursor: JSON = .null
        repeat {
            let body = JSON.object(JSONObject([.init("limit", .integer(4)), .init("cursor", cursor), .init("properties", .array([.string("plan")]))]))
            let page = try await test.engine.query(body, in: namespace, timeout: .seconds(30))
            #expect(page.profiles.count <= 4)
            #expect(page.profiles.allSatisfy { $0.properties.map(\.name) == ["plan"] })
            seen += page.profiles.map(\.distinctID)
            cursor = page.nextCursor.map(JSON.string) ?? .null
        } while cursor != .null
        #expect(seen == ids.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })

        let bare = try await test.engine.query(try JSONParser.parse(#"{"properties": [], "limit": 1000}"#), in: namespace, timeout: .seconds(30))
        #expect(bare.profiles.count == ids.count)
        #expect(bare.profiles.allSatisfy { $0.properties.isEmpty })
        #expect(bare.nextCursor == nil)
        try await test.engine.close()
    }

    @Test(arguments: StoreKind.allCases)
    func aDroppedPropertyMatchesOnlyNotSetUntilItsNextValue(store: StoreKind) async throws {
        let test = try await TestEngine(store)
        try await test.submit(#"{"$set": {"plan": "pro"}}"#, distinctID: "a")
        try await test.submit(#"{"$set": {"plan": "free"}}"#, distinctID: "b")
        _ = try await test.engine.dropProperty("plan", in: namespace)
        func matches(_ filter: String) async throws -> [String] {
            try await test.engine.query(try JSONParser.parse(#"{"where": \#(filter)}"#), in: namespace, timeout: .seconds(30)).profiles.map(\.distinctID)
        }
        #expect(try await matches(#"{"property": "plan", "op": "is_set"}"#) == [])
        #expect(try await matches(#"{"property": "plan", "op": "not_set"}"#) == ["a", "b"])
        // Registered anew as a number: the old strings are gone, the new value is found.
        try await test.submit(#"{"$set": {"plan": 7}}"#, distinctID: "b")
        #expect(try await matches(#"{"property": "plan", "op": "gt", "value": 1}"#) == ["b"])
        #expect(try await matches(#"{"property": "plan", "op": "not_set"}"#) == ["a"])
        await #expect(throws: DecodeError.self) { try await matches(#"{"property": "plan", "op": "eq", "value": "pro"}"#) }
        try await test.engine.close()
    }

    /// A page driven by a condition of few matches looks them up by id;
    /// otherwise it walks `profiles_by_distinct_id` in order. (SQLite chose the
    /// walk for both before the statement kept it from that index: a page of
    /// one match then read every profile of the namespace.) Driven, it opens
    /// no temporary B-tree: the two it opened doubled a one-profile page's time in SQLite.
    @Test func aSmallConditionDrivesItsPageByID() async throws {
        let test = try await TestEngine(.sqlite)
        for id in ["a", "b", "c"] { try await test.submit(#"{"$set": {"plan": "pro"}}"#, distinctID: id) }
        let store = try #require(test.engine.store as? SQLiteStore)
        let rows: SQLText = "SELECT v.profile FROM property_values v WHERE v.name = ? AND v.value = ?"
        let probe: SQLText = "EXISTS (SELECT 1 FROM (SELECT onced_value(p.props, ?) AS value) v WHERE v.value IS NOT NULL AND v.value = ?)"
        func explain(_ sql: SQLText, _ arguments: StatementArguments, plan: Bool = true) async throws -> String {
            try await store.pool.read { db in
                try Row.fetchAll(db, sql: (plan ? "EXPLAIN QUERY PLAN " : "EXPLAIN ") + sql.text, arguments: arguments)
                    .map { plan ? $0["detail"] as String : $0["opcode"] as String }.joined(separator: "; ")
            }
        }
        let driven = SQLiteStore.pageSQL("1", joinedTo: rows)
        let drivenPlan = try await explain(driven, [1, "pro", 1, ""])
        #expect(drivenPlan.contains("SEARCH p USING INTEGER PRIMARY KEY"), "\(drivenPlan)")
        #expect(!drivenPlan.contains("profiles_by_distinct_id"), "\(drivenPlan)")
        let drivenCode = try await explain(driven, [1, "pro", 1, ""], plan: false)
        #expect(drivenCode.contains("SorterSort") && !drivenCode.contains("OpenEphemeral"), "\(drivenCode)")
        let walked = try await explain(SQLiteStore.pageSQL(probe), [1, "", 1, "pro", 101])
        #expect(walked.contains("profiles_by_distinct_id"), "\(walked)")
        // Driven, pages still come in distinct_id order, each after its cursor.
        let filter = try JSONParser.parse(#"{"property": "plan", "op": "eq", "value": "pro"}"#)
        var seen: [String] = []
        var cursor: String?
        repeat {
            var body: [JSONObject.Member] = [.init("where", filter), .init("limit", .integer(2))]
            if let cursor { body.append(.init("cursor", .string(cursor))) }
            let page = try await test.engine.query(.object(JSONObject(body)), in: namespace, timeout: .seconds(5))
            seen += page.profiles.map(\.distinctID)
            cursor = page.nextCursor
        } while cursor != nil && seen.count < 10
        #expect(seen == ["a", "b", "c"])
        try await test.engine.close()
    }

    /// A page carried over from its caller's thread to the query thread reads
    /// its earlier rows' properties in the new snapshot: a profile erased in
    /// between (its row gone) is left out, not shown without properties.
    @Test func aPageLeavesOutAProfileWhoseRowIsGone() async throws {
        let test = try await TestEngine(.sqlite)
        for id in ["a", "b"] { try await test.submit(#"{"$set": {"plan": "pro", "seats": 2}}"#, distinctID: id) }
        let store = try #require(test.engine.store as? SQLiteStore)
        let namespace = namespace
        let shown = try await store.queries.read { db, statements in
            let names = try store.queryNames.read(namespace, in: db, statements: statements)
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM profiles ORDER BY distinct_id")
            let blank = { (id: String) in Profile(distinctID: id, properties: [], createdAt: Date(), updatedAt: Date()) }
            var profiles = [blank("a"), blank("gone"), blank("b")]
            try SQLiteStore.loadProperties(into: &profiles, ids: [ids[0], ids.max()! + 1, ids[1]], shown: ["seats"],
                                           names: names, statements: statements, db: db)
            return profiles.map { "\($0.distinctID) \($0.properties.map(\.name))" }
        }
        #expect(shown == ["a [\"seats\"]", "b [\"seats\"]"])
        try await test.engine.close()
    }

    #if os(Linux)
    /// Queries run below the writes' CPU priority, and only they do: GET's readers keep theirs.
    @Test func sqliteQueriesRunAtNiceTen() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(path: directory.path("onced.db"))
        #expect(try await store.queries.read { _, _ in getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) } == 10, "the process runs at nice \(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0))")
        // libdispatch gives its workers a niceness by QoS (GRDB's readers ran at -2 here).
        let reader = try await store.pool.read { _ in getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }
        #expect(reader < 10)
        try await store.close()
        await #expect(throws: StoreError.self) { try await store.queries.read { _, _ in 1 } }
    }
    #endif

    @Test(arguments: StoreKind.shared)
    func aQueryPastItsTimeLimitStopsWithQueryTimeout(store: StoreKind) async throws {
        let test = try await TestEngine(store)
        // Enough rows that a count of 64 substring conditions takes far longer than 1 ms.
        let elements = try (0..<5000).map { index in
            try RequestDecoder.element(distinctID: "user-\(index)", opsIn: try JSONParser.parse(#"{"$set": {"name": "someone number \#(index)"}}"#).objectValue!)
        }
        for chunk in stride(from: 0, to: elements.count, by: 500) {
            _ = try await test.engine.submit(WriteRequest(namespace: namespace, elements: Array(elements[chunk..<(chunk + 500)])))
        }
        let slow = #"{"where": {"or": [\#((0..<64).map { #"{"property": "name", "op": "contains", "value": "x\#($0)y"}"# }.joined(separator: ", "))]}}"#
        let error = await #expect(throws: StoreError.self) {
            _ = try await test.engine.count(try JSONParser.parse(slow), in: namespace, timeout: .milliseconds(1))
        }
        #expect(error.map { if case .queryTimeout = $0 { true } else { false } } == true, "\(String(describing: error))")
        // A body that does not check is refused as such (a 400), even when it asked with no time to spare.
        await #expect(throws: DecodeError("condition on name (a string property): in takes an array of values")) {
            _ = try await test.engine.count(try JSONParser.parse(#"{"where": {"property": "name", "op": "in", "value": "x"}}"#),
                                            in: namespace, timeout: .zero)
        }
        // The store answers the next query as usual, the one interrupted too (its statement is not reused half run).
        #expect(try await test.engine.count(try JSONParser.parse("{}"), in: namespace, timeout: .seconds(30)) == 5000)
        #expect(try await test.engine.count(try JSONParser.parse(slow), in: namespace, timeout: .seconds(60)) == 0)
        try await test.engine.close()
    }
}
