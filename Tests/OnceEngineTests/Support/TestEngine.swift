import Foundation
@testable import OnceEngine
@_exported import TestSupport

/// The stores the store-level suite runs against.
enum StoreKind: String, CaseIterable, Sendable {
    case sqlite, postgres, memory

    /// The stores that persist, and that several engines (processes) can share.
    static let shared: [StoreKind] = [.sqlite, .postgres]
}

/// A real engine on a fresh data set: a SQLite file in a temporary directory,
/// a new PostgreSQL database, or a ``MemoryStore``.
struct TestEngine: Sendable {
    static let namespace = Namespace(workspace: "FY12345678", version: .live)
    let directory = TemporaryDirectory()
    let engine: Engine
    /// The PostgreSQL database, for a second engine on the same data.
    let dataSet: TestDataSet?

    init(_ kind: StoreKind = .sqlite, options: SQLiteStore.Options = .init()) async throws {
        switch kind {
        case .sqlite:
            engine = try Engine(sqlitePath: directory.path("onced.db"), options: options)
            dataSet = nil
        case .postgres:
            let dataSet = try await TestDataSet.fresh(.postgres, in: directory)
            engine = Engine(store: try await dataSet.open())
            self.dataSet = dataSet
        case .memory:
            engine = Engine(store: MemoryStore())
            dataSet = nil
        }
    }

    var dbPath: String { directory.path("onced.db") }

    /// Submits one element built from a JSON body such as `{"$once": {...}}`.
    @discardableResult
    func submit(_ body: String, distinctID: String = "user-1", namespace: Namespace = namespace) async throws -> RequestRecord {
        let object = try JSONParser.parse(body).objectValue!
        let element = try RequestDecoder.element(distinctID: distinctID, opsIn: object)
        return try await engine.submit(WriteRequest(namespace: namespace, elements: [element]))
    }

    /// The outcome of each property, flattened over ops, as `name: outcome`.
    func outcomes(_ body: String, distinctID: String = "user-1", namespace: Namespace = namespace) async throws -> [String: Outcome] {
        var outcomes: [String: Outcome] = [:]
        for result in try await submit(body, distinctID: distinctID, namespace: namespace).propertyResults {
            outcomes[result.name] = result.outcome
        }
        return outcomes
    }

    func profile(_ distinctID: String = "user-1", namespace: Namespace = namespace) async throws -> Profile? {
        try await engine.profile(distinctID, in: namespace)
    }

    func value(_ name: String, of distinctID: String = "user-1", namespace: Namespace = namespace) async throws -> PropertyValue? {
        try await profile(distinctID, namespace: namespace)?[name]
    }
}
