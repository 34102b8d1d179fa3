import Foundation
import Testing
@testable import OnceEngine

/// The shadow comparer's bounds: a full queue skips comparisons (never waits), and
/// each namespace keeps only its last differing requests, newest first.
@Suite struct ShadowRulesQueueTests {
    func runtime(_ body: String) throws -> (RuleRuntime, TemporaryDirectory) {
        let directory = TemporaryDirectory()
        try "return { property = function(name, value) \(body) end }".write(toFile: directory.path("10-r.lua"), atomically: true, encoding: .utf8)
        return (try RuleRuntime(directory: directory.url.path), directory)
    }

    @Test func aFullQueueSkipsAndOnlyTheLastExamplesAreKept() async throws {
        let (live, liveDirectory) = try runtime("return value .. 'a'")
        let (shadow, shadowDirectory) = try runtime("return value .. 'b'")
        let engine = Engine(store: MemoryStore(), rules: live)
        let comparer = ShadowRules(shadow: shadow, engine: engine, queueCapacity: 3, examplesKept: 2)
        var ids: [UUID] = []
        for index in 0..<5 {
            let request = WriteRequest(namespace: TestEngine.namespace, elements: [
                Element(distinctID: "u\(index)", ops: [OpInput(op: .set, properties: JSONObject([.init("p", .string("x"))]))]),
            ])
            ids.append(request.id)
            // Nothing works the queue yet: the last two are skipped.
            comparer.offer(request, live: try await engine.prepare(request), id: request.id)
        }
        comparer.finish()
        await comparer.run()
        let report = comparer.report(for: TestEngine.namespace)
        #expect(report.compared == 3)
        #expect(report.differing == 3)
        #expect(report.examples.map(\.requestID) == [ids[1], ids[2]])
        #expect(report.examples.last?.differences.first?.new?.value == .string("xb"))
        #expect(report.examples.last?.differences.first?.old?.value == .string("xa"))
        #expect(comparer.report(for: Namespace(workspace: "OTHER", version: .live)).compared == 0)
        _ = (liveDirectory, shadowDirectory)
    }

    /// The live side of a comparison is what the live rules made of the write
    /// when it was written: they do not run again (a reload since changes nothing).
    @Test func theLiveSideIsTheWritesOwnOutput() async throws {
        let (live, liveDirectory) = try runtime("return value .. 'a'")
        let (shadow, shadowDirectory) = try runtime("return value .. 'b'")
        let engine = Engine(store: MemoryStore(), rules: live)
        let comparer = ShadowRules(shadow: shadow, engine: engine)
        let request = WriteRequest(namespace: TestEngine.namespace, elements: [
            Element(distinctID: "u", ops: [OpInput(op: .set, properties: JSONObject([.init("p", .string("x"))]))]),
        ])
        let prepared = try await engine.prepare(request)
        try "return { property = function(name, value) return value .. 'c' end }"
            .write(toFile: liveDirectory.path("10-r.lua"), atomically: true, encoding: .utf8)
        live.reload()
        comparer.offer(request, live: prepared, id: request.id)
        comparer.finish()
        await comparer.run()
        let difference = comparer.report(for: TestEngine.namespace).examples.first?.differences.first
        #expect(difference?.old?.value == .string("xa") && difference?.new?.value == .string("xb"), "\(String(describing: difference))")
        _ = shadowDirectory
    }
}
