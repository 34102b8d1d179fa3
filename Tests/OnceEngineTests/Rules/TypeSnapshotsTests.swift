import Foundation
import Synchronization
import Testing
@testable import OnceEngine

/// `ctx.type_of`'s snapshots: one store read per namespace however many
/// requests find it due, and never an answer that misses a type this process stored.
@Suite struct TypeSnapshotsTests {
    /// A memory store whose type reads are counted and slow, so concurrent callers overlap them.
    final class CountingStore: ProfileStore {
        let inner = MemoryStore()
        let reads = Atomic<Int>(0)

        func apply(_ request: PreparedRequest) async throws -> RequestRecord { try await inner.apply(request) }
        func profile(_ distinctID: String, in namespace: Namespace) async throws -> Profile? { try await inner.profile(distinctID, in: namespace) }
        func record(_ requestID: UUID, in namespace: Namespace) async throws -> RequestRecord? { try await inner.record(requestID, in: namespace) }
        func close() async throws { try await inner.close() }
        func deleteRecords(receivedBefore cutoff: Date, limit: Int) async throws -> Int { try await inner.deleteRecords(receivedBefore: cutoff, limit: limit) }
        func reclaimDroppedValues(limit: Int) async throws -> Bool { try await inner.reclaimDroppedValues(limit: limit) }
        func page(_ body: QueryBody, in namespace: Namespace, timeout: Duration) async throws -> QueryPage {
            try await inner.page(body, in: namespace, timeout: timeout)
        }
        func count(_ body: QueryBody, in namespace: Namespace, timeout: Duration) async throws -> Int {
            try await inner.count(body, in: namespace, timeout: timeout)
        }
        func registeredTypes(in namespace: Namespace) async throws -> [String: PropertyType] {
            reads.wrappingAdd(1, ordering: .relaxed)
            try await Task.sleep(for: .milliseconds(50))
            return try await inner.registeredTypes(in: namespace)
        }
    }

    @Test func concurrentCallersShareOneRead() async throws {
        let store = CountingStore()
        let snapshots = TypeSnapshots(maxAge: .seconds(3600))
        let namespace = TestEngine.namespace
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<64 { group.addTask { _ = try await snapshots.types(in: namespace, store: store) } }
            try await group.waitForAll()
        }
        #expect(store.reads.load(ordering: .relaxed) == 1)
        _ = try await snapshots.types(in: namespace, store: store)
        #expect(store.reads.load(ordering: .relaxed) == 1, "a fresh snapshot is served from memory")
    }

    @Test func aTypeStoredHereIsSeenByTheNextRequest() async throws {
        let store = CountingStore()
        let engine = Engine(store: store)
        let snapshots = TypeSnapshots(maxAge: .seconds(3600))
        let namespace = TestEngine.namespace
        #expect(try await snapshots.types(in: namespace, store: store).isEmpty)
        let record = try await engine.submit(WriteRequest(namespace: namespace, elements: [
            Element(distinctID: "u", ops: [OpInput(op: .set, properties: JSONObject([.init("age", .integer(3))]))]),
        ]))
        snapshots.learn(from: record, in: namespace)
        #expect(try await snapshots.types(in: namespace, store: store)["age"] == .number)
        #expect(store.reads.load(ordering: .relaxed) == 2)
    }

    @Test func theSnapshotsAreBounded() async throws {
        let store = CountingStore()
        let snapshots = TypeSnapshots(maxAge: .seconds(3600), capacity: 8)
        for index in 0..<20 {
            _ = try await snapshots.types(in: Namespace(workspace: "W\(index)", version: .live), store: store)
        }
        #expect(snapshots.namespaceCount <= 8)
    }

}
