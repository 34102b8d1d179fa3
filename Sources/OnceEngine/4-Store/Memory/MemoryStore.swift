import Foundation
import Synchronization

/// A store in process memory: for `apply --dry-run` and for programs that
/// embed the engine in their own tests. Nothing survives the process.
///
/// Requests apply one at a time under a lock. Its steps cannot fail, so a
/// request that starts always completes: atomic without an undo log.
public final class MemoryStore: ProfileStore {
    struct StoredProfile {
        var createdAt: Int64
        var updatedAt: Int64
        var properties: [String: PropertyValue] = [:]

        /// Stores `value` only where `name` has none; whether it did.
        mutating func insertIfAbsent(_ name: String, _ value: PropertyValue) -> Bool {
            guard properties[name] == nil else { return false }
            properties[name] = value
            return true
        }
    }

    /// One namespace's data: a request touches only its own, so it takes it
    /// out whole and puts it back, and no step hashes the namespace again.
    struct Space {
        var profiles: [String: StoredProfile] = [:]
        var types: [String: PropertyType] = [:]
        var records: [UUID: RequestRecord] = [:]

        init() {}

        /// A namespace that starts from `types` and `profiles` (read from a real
        /// store): where a rehearsed write sees what a real one would.
        init(types: [String: PropertyType], profiles: [Profile]) {
            self.types = types
            for profile in profiles {
                self.profiles[profile.distinctID] = StoredProfile(
                    createdAt: profile.createdAt.epochMilliseconds, updatedAt: profile.updatedAt.epochMilliseconds,
                    properties: Dictionary(profile.properties.map { ($0.name, $0.value) }) { first, _ in first })
            }
        }
    }

    private struct State {
        var spaces: [Namespace: Space] = [:]
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
            let namespace = request.namespace
            // Taken out, so the transaction mutates it in place rather than a copy.
            var transaction = MemoryTransaction(space: state.spaces.removeValue(forKey: namespace) ?? Space(),
                                                now: request.receivedAt.epochMilliseconds, keepsRecords: keepsRecords)
            defer { state.spaces[namespace] = transaction.space }
            return try RequestApplier.apply(request, in: &transaction)
        }
    }

    /// The profile, properties sorted by name.
    public func profile(_ distinctID: String, in namespace: Namespace) async throws -> Profile? {
        guard let stored = state.withLock({ $0.spaces[namespace]?.profiles[distinctID] }) else { return nil }
        return Profile(distinctID: distinctID,
                       properties: stored.properties.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) },
                       createdAt: Date(epochMilliseconds: stored.createdAt), updatedAt: Date(epochMilliseconds: stored.updatedAt))
    }

    /// The record, if records are kept.
    public func record(_ requestID: UUID, in namespace: Namespace) async throws -> RequestRecord? {
        state.withLock { $0.spaces[namespace]?.records[requestID] }
    }

    /// The namespace's registered types.
    public func registeredTypes(in namespace: Namespace) async throws -> [String: PropertyType] {
        state.withLock { $0.spaces[namespace]?.types ?? [:] }
    }

    /// Every profile of the namespace tested in turn, as SPEC §8 reads (``FilterEvaluator``).
    public func page(_ body: QueryBody, in namespace: Namespace, timeout: Duration) async throws -> QueryPage {
        let (query, matching) = try state.withLock { state in
            let space = state.spaces[namespace]
            let query = try body.query(in: namespace, types: space?.types ?? [:])
            return (query, (space?.profiles ?? [:]).filter { distinctID, stored in
                query.after.map { $0.utf8.lexicographicallyPrecedes(distinctID.utf8) } ?? true
                    && FilterEvaluator.matches(query.filter, stored.properties)
            })
        }
        let fetched = matching.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.prefix(query.fetchLimit).map { distinctID, stored in
            Profile(distinctID: distinctID,
                    properties: stored.properties.filter { query.properties?.contains($0.key) ?? true }
                        .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { (name: $0.key, value: $0.value) },
                    createdAt: Date(epochMilliseconds: stored.createdAt), updatedAt: Date(epochMilliseconds: stored.updatedAt))
        }
        return QueryPage(fetched: fetched, limit: query.limit)
    }

    public func count(_ body: QueryBody, in namespace: Namespace, timeout: Duration) async throws -> Int {
        try state.withLock { state in
            let space = state.spaces[namespace]
            let filter = try body.countFilter(types: space?.types ?? [:])
            return (space?.profiles ?? [:]).values.count { FilterEvaluator.matches(filter, $0.properties) }
        }
    }

    public func deleteRecords(receivedBefore cutoff: Date, limit: Int) async throws -> Int {
        state.withLock { state in
            var deleted = 0
            for (namespace, space) in state.spaces {
                for (id, record) in space.records where record.receivedAt < cutoff && deleted < limit {
                    state.spaces[namespace]?.records[id] = nil
                    deleted += 1
                }
            }
            return deleted
        }
    }

    /// A drop removes the values at once here: nothing is left to reclaim.
    public func reclaimDroppedValues(limit: Int) async throws -> Bool { false }

    /// Refuses later writes.
    public func close() async throws {
        state.withLock { $0.closed = true }
    }
}

/// ``StoreTransaction`` over one namespace's data in a ``MemoryStore``.
struct MemoryTransaction: LockedListEditing {
    var space: MemoryStore.Space
    let now: Int64
    let keepsRecords: Bool

    mutating func registeredType(_ name: String, registering candidate: PropertyType?) throws -> PropertyType? {
        if let known = space.types[name] { return known }
        if let candidate { space.types[name] = candidate }
        return candidate
    }

    mutating func createProfile(_ distinctID: String) throws -> Bool {
        guard space.profiles[distinctID] == nil else { return false }
        space.profiles[distinctID] = MemoryStore.StoredProfile(createdAt: now, updatedAt: now)
        return true
    }

    mutating func touchProfile(_ distinctID: String) throws {
        space.profiles[distinctID]?.updatedAt = now
    }

    mutating func insertIfAbsent(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool {
        space.profiles[distinctID]?.insertIfAbsent(name, value) ?? false
    }

    mutating func upsert(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool {
        guard space.profiles[distinctID]?.properties[name] != value else { return false }
        space.profiles[distinctID]?.properties[name] = value
        return true
    }

    mutating func add(_ distinctID: String, _ name: String, _ number: PropertyValue) throws {
        let current = space.profiles[distinctID]?.properties[name]
        space.profiles[distinctID]?.properties[name] = PropertyValue.sum(current, number)
    }

    mutating func list(_ distinctID: String, _ name: String) throws -> [PropertyValue]? {
        guard case .list(let elements)? = space.profiles[distinctID]?.properties[name] else { return nil }
        return elements
    }

    mutating func delete(_ distinctID: String, _ name: String) throws -> Bool {
        space.profiles[distinctID]?.properties.removeValue(forKey: name) != nil
    }

    mutating func eraseProfile(_ distinctID: String) throws -> Bool {
        for (id, record) in space.records where record.results.contains(where: { $0.distinctID == distinctID }) {
            space.records[id]?.results = record.results.map { result in
                var result = result
                if result.distinctID == distinctID { result.distinctID = nil }
                return result
            }
        }
        return space.profiles.removeValue(forKey: distinctID) != nil
    }

    mutating func dropProperty(_ name: String) throws -> Bool {
        guard space.types.removeValue(forKey: name) != nil else { return false }
        for id in space.profiles.keys { space.profiles[id]?.properties[name] = nil }
        return true
    }

    mutating func save(_ record: RequestRecord) throws {
        if keepsRecords { space.records[record.id] = record }
    }
}
