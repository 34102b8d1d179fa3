import Foundation
import GRDB
import Synchronization
import Testing
import TestSupport
@testable import OnceEngine

/// Where a cohort query runs on SQLite: on its caller's thread when the query
/// connection is free, on the query thread (nice 10) when another query holds
/// it or when it outruns its time on the caller.
@Suite struct QueryThreadTests {
    /// The niceness of the thread this runs on.
    static func niceness() -> Int32 {
        #if os(Linux)
        getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        #else
        0
        #endif
    }

    @Test func aQueryRunsWhereItIsAskedWhenNoOtherIsRunning() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(path: directory.path("onced.db"))
        let (attempt, niceness) = try await store.queries.answer { _, _, attempt in (attempt, Self.niceness()) }
        #expect(attempt == .caller)
        #if os(Linux)
        #expect(niceness < 10)
        #endif
        try await store.close()
    }

    @Test func aQueryThatGivesWayRunsAgainOnTheQueryThread() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(path: directory.path("onced.db"))
        let attempts = Mutex<[QueryThread.Attempt]>([])
        let answer = try await store.queries.answer { db, _, attempt in
            attempts.withLock { $0.append(attempt) }
            if attempt == .caller { throw QueryThread.GiveWay() }
            return try Int.fetchOne(db, sql: "SELECT 41 + 1")!
        }
        #expect(answer == 42)
        #expect(attempts.withLock { $0 } == [.caller, .thread])
        // Other errors are the query's answer: it does not run twice.
        attempts.withLock { $0 = [] }
        await #expect(throws: StoreError.self) {
            try await store.queries.answer { _, _, attempt in
                attempts.withLock { $0.append(attempt) }
                throw StoreError.queryTimeout
            }
        }
        #expect(attempts.withLock { $0 } == [.caller])
        try await store.close()
    }

    /// While one query holds the connection on the query thread, the next one waits for it there, not on its caller.
    @Test func aQueryAskedWhileAnotherRunsWaitsOnTheQueryThread() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteStore(path: directory.path("onced.db"))
        let started = Mutex(false)
        let release = DispatchSemaphore(value: 0)
        let first = Task {
            try await store.queries.read { _, _ in
                started.withLock { $0 = true }
                release.wait()
                return 1
            }
        }
        while !started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(1)) }
        let second = Task { try await store.queries.answer { _, _, attempt in (attempt, Self.niceness()) } }
        while store.queries.waiting == 0 { try await Task.sleep(for: .milliseconds(1)) }
        release.signal()
        #expect(try await first.value == 1)
        let (attempt, niceness) = try await second.value
        #expect(attempt == .thread)
        #if os(Linux)
        #expect(niceness == 10)
        #endif
        try await store.close()
        await #expect(throws: StoreError.self) { try await store.queries.answer { _, _, _ in 1 } }
    }

    /// A page goes on from the last row it read, whichever way it stopped:
    /// a walk in distinct_id order out of steps (2 × 4,096 here, a few
    /// hundred profiles, so among the `b-` profiles, none of which match),
    /// driven on by its condition's 2,530 matches (too many to join to); or
    /// an attempt on the caller's thread out of time (none here), carried
    /// over to the query thread. Each gives the same pages, properties and
    /// all, as a walk never stopped.
    @Test func aPageGoesOnFromItsLastRowWhereverItStopped() async throws {
        let test = try await TestEngine(.sqlite)
        let people = (0..<30).map { ("a-\($0)", 5) } + (0..<3000).map { ("b-\($0)", 0) } + (0..<2500).map { ("c-\($0)", 5 + $0 % 3) }
        let elements = try people.map { id, seats in
            try RequestDecoder.element(distinctID: id, opsIn: try JSONParser.parse(#"{"$set": {"seats": \#(seats), "name": "n\#(id)"}}"#).objectValue!)
        }
        for chunk in stride(from: 0, to: elements.count, by: 500) {
            let end = min(chunk + 500, elements.count)
            _ = try await test.engine.submit(WriteRequest(namespace: TestEngine.namespace, elements: Array(elements[chunk..<end])))
        }
        var outOfSteps = SQLiteStore.Options()
        outOfSteps.pageWalkSteps = 2 * Int(QueryProgress.interval)
        var outOfTime = SQLiteStore.Options()
        outOfTime.queryTimeOnCaller = .zero
        var unstopped = SQLiteStore.Options()
        unstopped.pageWalkSteps = .max
        unstopped.queryTimeOnCaller = .seconds(600)
        let engines = try [outOfSteps, outOfTime, unstopped].map { try Engine(sqlitePath: test.dbPath, options: $0) }
        let filters = [
            #"{"property": "seats", "op": "gte", "value": 1}"#,
            #"{"and": [{"property": "name", "op": "contains", "value": "-2"}, {"property": "seats", "op": "gt", "value": 4}]}"#,
        ]
        for filter in filters {
            let expected = people.filter { id, seats in seats >= 1 && (filter.contains("contains") ? id.contains("-2") : true) }
                .map(\.0).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            var pages: [[Profile]] = []
            for engine in engines {
                var profiles: [Profile] = []
                var cursor: String?
                repeat {
                    let body = #"{"where": \#(filter), "limit": 100\#(cursor.map { #", "cursor": "\#($0)""# } ?? "")}"#
                    let page = try await engine.query(try JSONParser.parse(body), in: TestEngine.namespace, timeout: .seconds(60))
                    profiles += page.profiles
                    cursor = page.nextCursor
                } while cursor != nil
                pages.append(profiles)
            }
            #expect(pages[2].map(\.distinctID) == expected, "\(filter)")
            #expect(pages[2].allSatisfy { $0.properties.map(\.0) == ["name", "seats"] }, "\(filter)")
            #expect(pages[0] == pages[2], "out of steps: \(filter)")
            #expect(pages[1] == pages[2], "out of time: \(filter)")
        }
        for engine in engines { try await engine.close() }
        try await test.engine.close()
    }

    /// Every query of a large namespace outruns a zero time on its caller and is answered on the query thread,
    /// from the statements it was stopped in: the same answers as with all the time it needs on the caller.
    @Test func answersAreTheSameWhereverTheQueryEnds() async throws {
        var options = SQLiteStore.Options()
        options.queryTimeOnCaller = .zero
        let moving = try await TestEngine(.sqlite, options: options)
        let elements = try (0..<3000).map { index in
            try RequestDecoder.element(distinctID: "user-\(index)", opsIn: try JSONParser.parse(
                #"{"$set": {"name": "someone number \#(index)", "seats": \#(index % 7)}}"#).objectValue!)
        }
        for chunk in stride(from: 0, to: elements.count, by: 500) {
            _ = try await moving.engine.submit(WriteRequest(namespace: TestEngine.namespace, elements: Array(elements[chunk..<(chunk + 500)])))
        }
        var staying = SQLiteStore.Options()
        staying.queryTimeOnCaller = .seconds(600)
        let still = try Engine(sqlitePath: moving.dbPath, options: staying)
        let filters = [
            #"{"property": "name", "op": "contains", "value": "number 12"}"#,
            #"{"and": [{"property": "seats", "op": "eq", "value": 3}, {"property": "name", "op": "contains", "value": "9"}]}"#,
            #"{"or": [{"property": "seats", "op": "gt", "value": 5}, {"property": "name", "op": "contains", "value": "99"}]}"#,
        ]
        for filter in filters + filters {
            let query = try JSONParser.parse(#"{"where": \#(filter), "limit": 7}"#)
            let moved = try await moving.engine.query(query, in: TestEngine.namespace, timeout: .seconds(60))
            let stayed = try await still.query(query, in: TestEngine.namespace, timeout: .seconds(60))
            #expect(moved.profiles.map(\.distinctID) == stayed.profiles.map(\.distinctID), "\(filter)")
            #expect(moved.nextCursor == stayed.nextCursor, "\(filter)")
            #expect(moved.profiles.count == 7)
            let count = try JSONParser.parse(#"{"where": \#(filter)}"#)
            #expect(try await moving.engine.count(count, in: TestEngine.namespace, timeout: .seconds(60))
                        == (try await still.count(count, in: TestEngine.namespace, timeout: .seconds(60))), "\(filter)")
        }
        // Worked out by hand: seats above 5 (every 7th profile, from the 7th) or a name holding 99.
        let sixes = (0..<3000).filter { $0 % 7 == 6 }.count
        let extra = (0..<3000).filter { $0 % 7 != 6 && String($0).contains("99") }.count
        #expect(try await moving.engine.count(JSONParser.parse(#"{"where": \#(filters[2])}"#), in: TestEngine.namespace,
                                              timeout: .seconds(60)) == sixes + extra)
        try await still.close()
        try await moving.engine.close()
    }
}
