import Foundation
import Synchronization

/// A store in process memory: for `apply --dry-run` and for programs that
/// embed the engine in their own tests. Nothing survives the process.
///
/// Requests apply one at a time under a lock. Its steps cannot fail, so a
/// request that starts always completes: atomic without an undo log.
public final class MemoryStore: ProfileStore {
    struct ProfileKey: Hashable {
        var namespace: Namespace
        var distinctID: String
    }

    struct StoredProfile {
        var createdAt: Int64
        var updatedAt: Int64
        var properties: [String: PropertyValue] = [:]
    }

    struct State {
        var profiles: [ProfileKey: StoredProfile] = [:]
        var types: [Namespace: [String: PropertyType]] = [:]
        var records: [Namespace: [UUID: RequestRecord]] = [:]
        var closed = false
    }

    private let state = Mutex(State())
    /// Whether request records are kept (a dry run has no use for them).
    private let keepsRecords: Bool

    /// - Parameter keepsRecords: false for a dry run, which never reads them back.
    public init(keepsRecords: Bool = true) {
        self.keepsRecords = keepsRecords
    }

    /// Applies the request at once; it is "durable" for the life of the process.
    public func apply(_ request: PreparedRequest) async throws -> RequestRecord {
        try state.withLock { state in
            guard !state.closed else { throw StoreError.closed }
            var transaction = MemoryTransaction(state: state, namespace: request.namespace,
                                                now: request.receivedAt.epochMilliseconds, keepsRecords: keepsRecords)
            state = State()  // hand the storage over so the transaction mutates it in place
            defer { state = transaction.state }
            return try RequestApplier.apply(request, in: &transaction)
        }
    }

    /// The profile, properties sorted by name.
    public func profile(_ distinctID: String, in namespace: Namespace) async throws -> Profile? {
        guard let stored = state.withLock({ $0.profiles[ProfileKey(namespace: namespace, distinctID: distinctID)] }) else {
            return nil
        }
        return Profile(distinctID: distinctID,
                       properties: stored.properties.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) },
                       createdAt: Date(epochMilliseconds: stored.createdAt), updatedAt: Date(epochMilliseconds: stored.updatedAt))
    }

    /// The record, if records are kept.
    public func record(_ requestID: UUID, in namespace: Namespace) async throws -> RequestRecord? {
        state.withLock { $0.records[namespace]?[requestID] }
    }

    /// The namespace's registered types.
    public func registeredTypes(in namespace: Namespace) async throws -> [String: PropertyType] {
        state.withLock { $0.types[namespace] ?? [:] }
    }

    /// Refuses later writes.
    public func close() async throws {
        state.withLock { $0.closed = true }
    }
}

/// ``StoreTransaction`` over the dictionaries of a ``MemoryStore``.
struct MemoryTransaction: LockedListEditing {
    var state: MemoryStore.State
    let namespace: Namespace
    let now: Int64
    let keepsRecords: Bool

    private func key(_ distinctID: String) -> MemoryStore.ProfileKey {
        MemoryStore.ProfileKey(namespace: namespace, distinctID: distinctID)
    }

    mutating func registeredType(_ name: String, registering candidate: PropertyType?) throws -> PropertyType? {
        if let known = state.types[namespace]?[name] { return known }
        if let candidate { state.types[namespace, default: [:]][name] = candidate }
        return candidate
    }

    mutating func createProfile(_ distinctID: String) throws -> Bool {
        guard state.profiles[key(distinctID)] == nil else { return false }
        state.profiles[key(distinctID)] = MemoryStore.StoredProfile(createdAt: now, updatedAt: now)
        return true
    }

    mutating func touchProfile(_ distinctID: String) throws {
        state.profiles[key(distinctID)]?.updatedAt = now
    }

    mutating func insertIfAbsent(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool {
        guard state.profiles[key(distinctID)]?.properties[name] == nil else { return false }
        state.profiles[key(distinctID)]?.properties[name] = value
        return true
    }

    mutating func upsert(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool {
        guard state.profiles[key(distinctID)]?.properties[name] != value else { return false }
        state.profiles[key(distinctID)]?.properties[name] = value
        return true
    }

    mutating func add(_ distinctID: String, _ name: String, _ number: PropertyValue) throws {
        let current = state.profiles[key(distinctID)]?.properties[name]
        state.profiles[key(distinctID)]?.properties[name] = Self.sum(current, number)
    }

    /// SQLite's arithmetic: integers stay integers unless they overflow; anything with a decimal is a decimal.
    static func sum(_ current: PropertyValue?, _ number: PropertyValue) -> PropertyValue {
        switch (current, number) {
        case (nil, _): number
        case (.integer(let a)?, .integer(let b)):
            a.addingReportingOverflow(b).overflow ? .decimal(Double(a) + Double(b)) : .integer(a + b)
        default: .decimal((current?.numericValue ?? 0) + (number.numericValue ?? 0))
        }
    }

    mutating func list(_ distinctID: String, _ name: String) throws -> [PropertyValue]? {
        guard case .list(let elements)? = state.profiles[key(distinctID)]?.properties[name] else { return nil }
        return elements
    }

    mutating func delete(_ distinctID: String, _ name: String) throws -> Bool {
        state.profiles[key(distinctID)]?.properties.removeValue(forKey: name) != nil
    }

    mutating func save(_ record: RequestRecord) throws {
        if keepsRecords { state.records[namespace, default: [:]][record.id] = record }
    }
}
