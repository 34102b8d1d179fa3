import Foundation
import GRDB
import OncePostgres
import Testing
@testable import OnceEngine

@Suite struct ConcurrencyTests {
    /// 64 tasks set-once the same 100 properties: exactly one `set` per property,
    /// and the stored value is the winner's.
    @Test(arguments: StoreKind.allCases)
    func exactlyOneWinnerPerProperty(store: StoreKind) async throws {
        let engine = try await TestEngine(store)
        let names = (0..<100).map { "p\($0)" }
        let records = try await withThrowingTaskGroup(of: (Int, RequestRecord).self) { group in
            for submitter in 0..<64 {
                group.addTask {
                    let properties = names.shuffled().map { #""\#($0)": \#(submitter)"# }.joined(separator: ",")
                    return (submitter, try await engine.submit(#"{"$once": {\#(properties)}}"#, distinctID: "shared"))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let profile = try #require(try await engine.profile("shared"))
        for name in names {
            let winners = records.filter { _, record in
                record.propertyResults.contains { $0.name == name && $0.outcome == .set }
            }
            #expect(winners.count == 1, "\(name) was set \(winners.count) times")
            let losers = records.flatMap(\.1.propertyResults).filter { $0.name == name && $0.outcome == .unchanged }
            #expect(losers.count == 63)
            #expect(profile[name] == .integer(Int64(winners.first!.0)))
        }
        try await engine.engine.close()
    }

    /// Many multi-profile set-once requests at once, so the store commits them in
    /// shared batches (PostgreSQL inserts a whole batch's values in one statement
    /// once the types are known): the outcomes are those of running them one by
    /// one — per namespace, profile and property exactly one `set`, the stored
    /// value is its value, a wrong type is ignored, a new name goes through too.
    @Test(arguments: StoreKind.allCases)
    func sharedBatchesAgreeWithOneByOne(store: StoreKind) async throws {
        let engine = try await TestEngine(store)
        let namespaces = [TestEngine.namespace, Namespace(workspace: TestEngine.namespace.workspace, version: .test)]
        for namespace in namespaces {  // known types: the batches after these need no type statement
            try await engine.submit(#"{"$once": {"n": 0, "s": "warm", "d": "2020-01-01"}}"#, distinctID: "warm", namespace: namespace)
        }
        @Sendable func date(_ submitter: Int) -> String { "2021-02-" + String(100 + submitter % 28 + 1).dropFirst() }
        let records = try await withThrowingTaskGroup(of: (Int, Namespace, RequestRecord).self) { group in
            for submitter in 0..<48 {
                group.addTask {
                    let namespace = namespaces[submitter % 2]
                    let day = submitter % 3 == 0 ? "not a date" : date(submitter)
                    let extra = submitter % 8 == 0 ? #", "new_\#(submitter)": true"# : ""
                    let properties = #"{"$once": {"n": \#(submitter), "s": "s\#(submitter)", "d": "\#(day)"\#(extra)}}"#
                    let elements = try (0..<6).shuffled().prefix(3).map { profile in
                        try RequestDecoder.element(distinctID: "p\(profile)", opsIn: JSONParser.parse(properties).objectValue!)
                    }
                    let request = WriteRequest(namespace: namespace, elements: elements)
                    return (submitter, namespace, try await engine.engine.submit(request))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for namespace in namespaces {
            for profile in (0..<6).map({ "p\($0)" }) {
                let writes = records.filter { $0.1 == namespace }.flatMap { submitter, _, record in
                    record.results.filter { $0.distinctID == profile }.flatMap(\.properties).map { (submitter, $0) }
                }
                guard !writes.isEmpty else { continue }
                let stored = try #require(try await engine.profile(profile, namespace: namespace))
                for name in ["n", "s"] {
                    let winners = writes.filter { $0.1.name == name && $0.1.outcome == .set }.map(\.0)
                    #expect(winners.count == 1, "\(namespace) \(profile).\(name) was set \(winners.count) times")
                    #expect(writes.filter { $0.1.name == name }.count == winners.count + writes.filter {
                        $0.1.name == name && $0.1.outcome == .unchanged }.count)
                    if let winner = winners.first {
                        #expect(stored[name] == (name == "n" ? .integer(Int64(winner)) : .string("s\(winner)")))
                    }
                }
                let dates = writes.filter { $0.1.name == "d" }
                #expect(dates.filter { $0.0 % 3 == 0 }.allSatisfy { $0.1.outcome == .ignoredTypeMismatch })
                let dateWinners = dates.filter { $0.1.outcome == .set }
                #expect(dateWinners.count == (dates.contains { $0.0 % 3 != 0 } ? 1 : 0))
                #expect(dateWinners.allSatisfy { stored["d"] == .date(ISODate(parsing: date($0.0))!) })
                // Each new name is one submitter's, on profiles it names once: always a first write.
                #expect(writes.filter { $0.1.name.hasPrefix("new_") }.allSatisfy { $0.1.outcome == .set })
            }
        }
        try await engine.engine.close()
    }

    /// An engine dropped without `close()` (a caller that forgot, a test that threw)
    /// lets go of its connections without taking the process down, and what it
    /// acknowledged is there for the next one.
    @Test(arguments: StoreKind.shared)
    func anEngineDroppedWithoutCloseLosesNothing(store: StoreKind) async throws {
        let dataSet = try await TestDataSet.fresh(store == .sqlite ? .sqlite : .postgres)
        do {
            let engine = Engine(store: try await dataSet.open())
            let element = try RequestDecoder.element(distinctID: "u1", opsIn: JSONParser.parse(#"{"$once": {"k": 1}}"#).objectValue!)
            _ = try await engine.submit(WriteRequest(namespace: TestEngine.namespace, elements: [element]))
        }
        let engine = Engine(store: try await dataSet.open())
        #expect(try await engine.profile("u1", in: TestEngine.namespace)?["k"] == .integer(1))
        try await engine.close()
    }

    /// A request that fails in the store leaves nothing behind, and the requests
    /// committed in the same batch are unaffected.
    @Test(arguments: StoreKind.shared)
    func aFailingRequestIsRolledBackAlone(store: StoreKind) async throws {
        let dataSet = try await TestDataSet.fresh(store == .sqlite ? .sqlite : .postgres)
        // Create the schema, then make the store refuse one property name.
        try await dataSet.open().close()
        try await Self.refuseProperty("boom", in: dataSet)

        let engine = Engine(store: try await dataSet.open())
        let namespace = TestEngine.namespace
        func request(_ id: String, _ properties: String) throws -> WriteRequest {
            let element = try RequestDecoder.element(distinctID: id, opsIn: JSONParser.parse(#"{"$once": {\#(properties)}}"#).objectValue!)
            return WriteRequest(namespace: namespace, elements: [element])
        }
        let results = await withTaskGroup(of: (String, Bool).self) { group in
            for index in 0..<20 {
                group.addTask {
                    let id = "u\(index)"
                    let properties = index == 7 ? #""a": 1, "boom": 2"# : #""a": 1, "b": 2"#
                    do {
                        _ = try await engine.submit(request(id, properties))
                        return (id, true)
                    } catch {
                        return (id, false)
                    }
                }
            }
            return await group.reduce(into: [String: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(results.filter { !$0.value }.map(\.key) == ["u7"])
        #expect(try await engine.profile("u7", in: namespace) == nil)
        for index in 0..<20 where index != 7 {
            #expect(try await engine.profile("u\(index)", in: namespace)?["b"] == .integer(2))
        }
        // The failed request registered no type either.
        #expect(try await engine.registeredTypes(in: namespace)["boom"] == nil)
        try await engine.close()
    }

    /// A trigger that makes the store itself fail any write of property `name`.
    static func refuseProperty(_ name: String, in dataSet: TestDataSet) async throws {
        switch dataSet.kind {
        case .sqlite:
            let queue = try DatabaseQueue(path: dataSet.sqlitePath)
            try await queue.write { db in
                try db.execute(sql: """
                    CREATE TRIGGER refuse BEFORE INSERT ON property_values
                    WHEN NEW.name IN (SELECT id FROM property_names WHERE name = '\(name)')
                    BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END
                    """)
            }
            try queue.close()
        case .postgres:
            let url = try PostgresURL(dataSet.postgresURL!)
            try await TestPostgres.execute("""
                CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF NEW.name = '\(name)' THEN RAISE EXCEPTION 'refused by test trigger'; END IF; RETURN NEW; END $$
                """, on: url)
            try await TestPostgres.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON properties FOR EACH ROW EXECUTE FUNCTION refuse()", on: url)
        }
    }

    /// Two engines (as two processes would) send requests that each write three
    /// of six shared profiles, in shuffled order, with every kind of op and new
    /// property names. Batches then contend for the same type, profile and
    /// property rows: they take them in one order, so they wait on each other
    /// but never deadlock (PostgreSQL counts none), and every `add` counts once.
    @Test(arguments: StoreKind.shared)
    func contendingBatchesNeverDeadlock(store: StoreKind) async throws {
        let dataSet = try await TestDataSet.fresh(store == .sqlite ? .sqlite : .postgres)
        try await dataSet.open().close()
        // The batches queue on each other's row locks by design; with the whole suite running
        // on two cores a statement has outlived the default 10 s deadline. This test counts
        // deadlocks and lost adds, not time.
        let engines = [Engine(store: try await dataSet.open(postgresQueryTimeout: 60)),
                       Engine(store: try await dataSet.open(postgresQueryTimeout: 60))]
        let namespace = TestEngine.namespace
        let requests = 64
        let records = try await withThrowingTaskGroup(of: RequestRecord.self) { group in
            for submitter in 0..<requests {
                group.addTask {
                    let ops = """
                        {"$add": {"count": 1}, "$append": {"tags": ["t\(submitter % 5)"]}, "$set": {"last": \(submitter)},
                         "$once": {"first": \(submitter), "new_\(submitter % 7)": "x"}}
                        """
                    let profiles = (0..<6).shuffled().prefix(3).map { "p\($0)" }
                    let elements = try profiles.map { try RequestDecoder.element(distinctID: $0, opsIn: JSONParser.parse(ops).objectValue!) }
                    return try await engines[submitter % 2].submit(WriteRequest(namespace: namespace, elements: elements))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let results = records.flatMap(\.results)
        for profile in Set(results.compactMap(\.distinctID)) {
            let written = results.filter { $0.distinctID == profile }
            let stored = try #require(try await engines[0].profile(profile, in: namespace))
            let adds = written.filter { $0.op == .add }.count
            #expect(stored["count"] == .integer(Int64(adds)), "\(profile)")
            let firstSets = written.flatMap(\.properties).filter { $0.name == "first" && $0.outcome == .set }.count
            #expect(firstSets == 1, "\(profile)")
        }
        for engine in engines { try await engine.close() }
        if let url = dataSet.postgresURL {
            let database = try PostgresURL(url)
            // A backend reports its counts when it exits: wait for the closed stores' backends first.
            for _ in 0..<100 {
                let others = try await TestPostgres.integer(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", on: database)
                if others == 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let deadlocks = try await TestPostgres.integer(
                "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()", on: database)
            #expect(deadlocks == 0)
        }
    }

    /// Two engines (as two processes would) on one data set: still one winner each.
    @Test(arguments: StoreKind.shared)
    func twoStoresOnOneDataSet(store: StoreKind) async throws {
        let dataSet = try await TestDataSet.fresh(store == .sqlite ? .sqlite : .postgres)
        try await dataSet.open().close()  // create the schema once, before the race
        let first = Engine(store: try await dataSet.open())
        let second = Engine(store: try await dataSet.open())
        let namespace = TestEngine.namespace
        let records = try await withThrowingTaskGroup(of: RequestRecord.self) { group in
            for index in 0..<40 {
                let engine = index.isMultiple(of: 2) ? first : second
                group.addTask {
                    let element = try RequestDecoder.element(distinctID: "shared", opsIn: JSONParser.parse(#"{"$once": {"x": \#(index), "y": \#(index)}}"#).objectValue!)
                    return try await engine.submit(WriteRequest(namespace: namespace, elements: [element]))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let sets = records.flatMap(\.propertyResults).filter { $0.outcome == .set }
        #expect(sets.filter { $0.name == "x" }.count == 1)
        #expect(sets.filter { $0.name == "y" }.count == 1)
        let seenByFirst = try await first.profile("shared", in: namespace)
        let seenBySecond = try await second.profile("shared", in: namespace)
        #expect(seenByFirst == seenBySecond)
        try await first.close()
        try await second.close()
    }
}
