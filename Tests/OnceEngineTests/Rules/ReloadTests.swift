import Foundation
import Synchronization
import Testing
@testable import OnceEngine

/// What the load tasks and the test share.
final class LoadState: Sendable {
    let stop = Atomic<Bool>(false)
    let failures = Atomic<Int>(0)
    let mixed = Atomic<Int>(0)
    let seen = Mutex<Set<String>>([])
}

@Suite struct ReloadTests {
    static func tagRule(_ tag: String) -> String {
        propertyRule("return '\(tag)'", "tests = { { input = { p = 'x' }, expect = { p = '\(tag)' } } },")
    }

    /// Submissions keep flowing while the rule file changes twice, once into a
    /// broken file: none fails, the new behaviour arrives within 2 s, a broken
    /// file keeps the previous generation, and no request mixes generations.
    @Test func reloadUnderConcurrentSubmissions() async throws {
        let rules = try RulesEngine(["10-tag.lua": Self.tagRule("v1")])
        let watcher = rules.runtime.watch(every: .milliseconds(50))
        defer { watcher.cancel() }
        let shared = LoadState()

        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        var index = 0
                        while !shared.stop.load(ordering: .relaxed) {
                            index += 1
                            let properties = (0..<20).map { #""p\#($0)": "x""# }.joined(separator: ",")
                            do {
                                let id = "w\(worker)-\(index)"
                                try await rules.submit(#"{"$set": {\#(properties)}}"#, distinctID: id)
                                let profile = try await rules.engine.profile(id, in: TestEngine.namespace)
                                let tags = Set(profile?.properties.map { $0.value.json.text } ?? [])
                                if tags.count != 1 { shared.mixed.add(1, ordering: .relaxed) }
                                shared.seen.withLock { $0.formUnion(tags) }
                            } catch {
                                shared.failures.add(1, ordering: .relaxed)
                            }
                        }
                    }
                }
            }
        }

        func waitFor(_ tag: String) async throws -> Duration {
            let clock = ContinuousClock()
            let start = clock.now
            while !shared.seen.withLock({ $0.contains("\"\(tag)\"") }) {
                guard clock.now - start < .seconds(10) else { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            return clock.now - start
        }

        /// Polls `condition` for up to 10 s; returns how long it took to hold.
        func waitUntil(_ condition: () -> Bool) async throws -> Duration {
            let clock = ContinuousClock()
            let start = clock.now
            while !condition(), clock.now - start < .seconds(10) {
                try await Task.sleep(for: .milliseconds(10))
            }
            return clock.now - start
        }

        #expect(try await waitFor("v1") < .seconds(10))
        try rules.write("10-tag.lua", Self.tagRule("v2"))
        // The reload latency proper: from the write to the new generation in force.
        #expect(try await waitUntil { rules.runtime.generation == 2 } < .seconds(2))
        #expect(try await waitFor("v2") < .seconds(10))
        #expect(rules.runtime.generation == 2)

        try rules.write("10-tag.lua", "return {\n  property = function(name, value) return 'v3' end,\n  oops =\n}")
        _ = try await waitUntil { rules.runtime.lastError != nil }
        #expect(rules.runtime.generation == 2)
        let error = try #require(rules.runtime.lastError?.errors.first)
        #expect(error.file == "10-tag.lua")
        #expect(error.line == 4)
        shared.seen.withLock { $0 = [] }
        #expect(try await waitFor("v2") < .seconds(10))

        // A rule whose own tests fail is not installed either.
        try rules.write("10-tag.lua", propertyRule("return 'v4'", "tests = { { input = { p = 'x' }, expect = { p = 'v3' } } },"))
        _ = try await waitUntil { rules.runtime.lastError?.description.contains("rule test failed") == true }
        #expect(rules.runtime.generation == 2)
        #expect(rules.runtime.lastError?.description.contains("rule test failed") == true)

        try rules.write("10-tag.lua", Self.tagRule("v5"))
        #expect(try await waitUntil { rules.runtime.generation == 3 } < .seconds(2))
        #expect(try await waitFor("v5") < .seconds(10))
        #expect(rules.runtime.lastError == nil)

        shared.stop.store(true, ordering: .relaxed)
        await load.value
        #expect(shared.failures.load(ordering: .relaxed) == 0)
        #expect(shared.mixed.load(ordering: .relaxed) == 0)
        #expect(!shared.seen.withLock { $0.contains("\"v3\"") || $0.contains("\"v4\"") })
    }

    @Test func explicitReloadReportsTheNewGeneration() throws {
        let rules = try RulesEngine(["a.lua": Self.tagRule("a")])
        #expect(rules.runtime.generation == 1)
        try rules.write("b.lua", Self.tagRule("b"))
        #expect(try rules.runtime.reload().get() == 2)
        #expect(rules.runtime.current.rules.map(\.file) == ["a.lua", "b.lua"])
        try FileManager.default.removeItem(atPath: rules.rulesPath + "/b.lua")
        #expect(try rules.runtime.reload().get() == 3)
        #expect(rules.runtime.current.rules.count == 1)
    }
}
