import Foundation

/// The set-once engine: decode → rules → validate → store → outcome.
///
/// Safe to call from many tasks at once. Validation runs in the caller's
/// task, so it spreads over cores; the store then commits concurrent
/// submissions together (group commit) and each returns once durable.
public final class Engine: Sendable {
    public let store: any ProfileStore

    public init(store: any ProfileStore) {
        self.store = store
    }

    /// Opens an engine over the SQLite file at `path`.
    public convenience init(sqlitePath path: String, options: SQLiteStore.Options = .init()) throws {
        self.init(store: try SQLiteStore(path: path, options: options))
    }

    /// Applies a request atomically and returns its record once it is durable.
    public func submit(_ request: WriteRequest) async throws -> RequestRecord {
        let prepared = PreparedRequest(id: request.id, namespace: request.namespace, receivedAt: request.receivedAt,
                                       elements: request.elements.map(Preparation.prepare))
        return try await store.apply(prepared)
    }

    public func profile(_ distinctID: String, in namespace: Namespace) async throws -> Profile? {
        try await store.profile(distinctID, in: namespace)
    }

    public func record(_ requestID: UUID, in namespace: Namespace) async throws -> RequestRecord? {
        try await store.record(requestID, in: namespace)
    }

    public func registeredTypes(in namespace: Namespace) async throws -> [String: PropertyType] {
        try await store.registeredTypes(in: namespace)
    }

    /// Finishes writes in flight and closes the store.
    public func close() async throws {
        try await store.close()
    }
}
