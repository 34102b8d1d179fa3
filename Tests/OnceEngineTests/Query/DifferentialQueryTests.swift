import Foundation
import Testing
import TestSupport
@testable import OnceEngine

/// Random namespaces and random filters: each store's SQL must select
/// exactly what ``FilterEvaluator`` (SPEC §8 read plainly, the memory
/// store's) selects. Seeded, so a failure names the seed that replays it.
@Suite struct DifferentialQueryTests {
    let namespace = TestEngine.namespace

    /// SplitMix64: small, seedable, the same sequence on every machine.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    // Few distinct values, so conditions match some profiles and miss others.
    static let strings = ["pro", "Pro", "free", "pr", "é", "prô", "z", ""]
    static let numbers = ["0", "1", "1.0", "-2", "2.5", "10", "9007199254740993"]
    static let dates = ["2024-01-01", "2024-01-01T01:00:00+01:00", "2024-06-30T12:00:00Z", "2023-12-31T23:59:59.999Z", "2025-02-28"]
    static let listElements = ["\"a\"", "\"b\"", "1", "2.0", "\"2024-01-01T00:00:00Z\"", "\"2024-06-30\""]

    static func pick<T>(_ options: [T], _ random: inout Seeded) -> T { options[Int(random.next() % UInt64(options.count))] }

    static func profileBody(_ random: inout Seeded) -> String {
        var members: [String] = []
        if random.next() % 4 != 0 { members.append(#""s": "\#(pick(strings, &random))""#) }
        if random.next() % 4 != 0 { members.append(#""n": \#(pick(numbers, &random))"#) }
        if random.next() % 3 != 0 { members.append(#""b": \#(random.next() % 2 == 0)"#) }
        if random.next() % 3 != 0 { members.append(#""d": "\#(pick(dates, &random))""#) }
        if random.next() % 3 != 0 {
            let count = Int(random.next() % 4)
            members.append(#""l": [\#((0..<count).map { _ in pick(listElements, &random) }.joined(separator: ", "))]"#)
        }
        return #"{"$set": {\#(members.joined(separator: ", "))}}"#
    }

    static func condition(_ random: inout Seeded) -> String {
        let property = pick(["s", "n", "b", "d", "l", "missing"], &random)
        let (ops, operands): ([String], [String]) = switch property {
        case "s": (["eq", "ne", "lt", "lte", "gt", "gte", "in", "contains", "starts_with", "is_set", "not_set"], strings.map { #""\#($0)""# })
        case "n": (["eq", "ne", "lt", "lte", "gt", "gte", "in", "is_set", "not_set"], numbers)
        case "b": (["eq", "ne", "is_set", "not_set"], ["true", "false"])
        case "d": (["eq", "ne", "lt", "lte", "gt", "gte", "in", "is_set", "not_set"], dates.map { #""\#($0)""# })
        case "l": (["contains", "is_set", "not_set"], listElements)
        default: (["eq", "is_set", "not_set"], ["1"])
        }
        let op = pick(ops, &random)
        switch op {
        case "is_set", "not_set": return #"{"property": "\#(property)", "op": "\#(op)"}"#
        case "in":
            let values = (0..<Int(random.next() % 3)).map { _ in pick(operands, &random) }
            return #"{"property": "\#(property)", "op": "in", "value": [\#(values.joined(separator: ", "))]}"#
        default: return #"{"property": "\#(property)", "op": "\#(op)", "value": \#(pick(operands, &random))}"#
        }
    }

    static func filter(_ random: inout Seeded, depth: Int = 0) -> String {
        guard depth < 3, random.next() % 2 == 0 else { return condition(&random) }
        switch random.next() % 3 {
        case 0: return #"{"not": \#(filter(&random, depth: depth + 1))}"#
        default:
            let key = random.next() % 2 == 0 ? "and" : "or"
            let parts = (0..<Int(random.next() % 4)).map { _ in filter(&random, depth: depth + 1) }
            return #"{"\#(key)": [\#(parts.joined(separator: ", "))]}"#
        }
    }

    @Test(arguments: StoreKind.shared)
    func everyStoreSelectsWhatSpecSays(store: StoreKind) async throws {
        for seed in UInt64(1)...3 {
            var random = Seeded(state: seed)
            let tested = try await TestEngine(store)
            let reference = try await TestEngine(.memory)
            for index in 0..<150 {
                let body = Self.profileBody(&random)
                try await tested.submit(body, distinctID: "p\(index)")
                try await reference.submit(body, distinctID: "p\(index)")
            }
            var selective = 0
            for _ in 0..<150 {
                let body = try JSONParser.parse(#"{"where": \#(Self.filter(&random)), "limit": 1000, "properties": []}"#)
                let expected = try await reference.engine.query(body, in: namespace, timeout: .seconds(30)).profiles.map(\.distinctID)
                let actual = try await tested.engine.query(body, in: namespace, timeout: .seconds(30)).profiles.map(\.distinctID)
                #expect(actual == expected, "seed \(seed): \(body.text)")
                if (1..<150).contains(expected.count) { selective += 1 }
                let count = JSON.object(JSONObject([.init("where", body.objectValue!["where"]!)]))
                #expect(try await tested.engine.count(count, in: namespace, timeout: .seconds(30)) == expected.count, "seed \(seed): \(body.text)")
            }
            // Filters that select some profiles and not others: the comparison tells the stores apart.
            #expect(selective >= 50, "seed \(seed)")
            try await tested.engine.close()
        }
    }

    /// Keyset pages over distinct_ids while another task creates and changes
    /// profiles: a profile that matches for the whole scan appears exactly once.
    @Test(arguments: StoreKind.allCases)
    func aPagedScanUnderWritesSeesEachSteadyMatchOnce(store: StoreKind) async throws {
        let test = try await TestEngine(store)
        for index in 0..<60 {
            try await test.submit(#"{"$set": {"plan": "\#(index % 3 == 0 ? "pro" : "free")"}}"#, distinctID: "u\(index)")
        }
        let steady = (0..<60).filter { $0 % 3 == 0 }.map { "u\($0)" }
        let writer = Task {
            for round in 0..<40 {
                try await test.submit(#"{"$set": {"plan": "pro"}}"#, distinctID: "new\(round)")
                try await test.submit(#"{"$set": {"seats": \#(round)}}"#, distinctID: "u\((round * 3) % 60)")
                try await test.submit(#"{"$set": {"plan": "free"}}"#, distinctID: "u\(round % 60 == 0 ? 1 : (round % 60) * 3 + 1)")
            }
        }
        var seen: [String] = []
        var cursor: JSON = .null
        repeat {
            let body = JSON.object(JSONObject([
                .init("where", try JSONParser.parse(#"{"property": "plan", "op": "eq", "value": "pro"}"#)),
                .init("limit", .integer(3)), .init("cursor", cursor),
            ]))
            let page = try await test.engine.query(body, in: namespace, timeout: .seconds(30))
            seen += page.profiles.map(\.distinctID)
            cursor = page.nextCursor.map(JSON.string) ?? .null
        } while cursor != .null
        try await writer.value
        #expect(Set(seen).count == seen.count)
        for id in steady { #expect(seen.filter { $0 == id }.count == 1, "\(id)") }
        #expect(seen == seen.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        try await test.engine.close()
    }
}
