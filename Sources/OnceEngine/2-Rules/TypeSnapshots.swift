import Synchronization

/// What `ctx.type_of` answers from: each namespace's registered types, kept in
/// memory so a hook never waits on the store.
///
/// A registration never changes, so a snapshot is never wrong, only possibly
/// short of types registered since: it is reloaded when ``maxAge`` old, and at
/// once after this process stores a property the snapshot does not know.
/// Reloads are single-flight: however many requests find a namespace's
/// snapshot due, one reads the store and the others wait for that read.
final class TypeSnapshots: Sendable {
    private struct Entry {
        var types: [String: PropertyType] = [:]
        var loadedAt: ContinuousClock.Instant?
        /// Bumped each time this process stores a type the snapshot may lack.
        var learned = 0
        /// `learned` as the snapshot saw it: behind it, the snapshot is due.
        var learnedSeen = 0
        var loading: Task<[String: PropertyType], any Error>?
    }

    private let entries = Mutex<[Namespace: Entry]>([:])
    let maxAge: Duration
    /// Namespaces kept at most; past it, the snapshots not being loaded are dropped (they reload on use).
    let capacity: Int

    init(maxAge: Duration = .seconds(1), capacity: Int = 1024) {
        self.maxAge = maxAge
        self.capacity = capacity
    }

    func types(in namespace: Namespace, store: any ProfileStore) async throws -> [String: PropertyType] {
        let now = ContinuousClock.now
        let load = entries.withLock { entries -> Task<[String: PropertyType], any Error>? in
            if let entry = entries[namespace] {
                if let loading = entry.loading { return loading }
                if isFresh(entry, at: now) { return nil }
            } else if entries.count >= capacity {
                entries = entries.filter { $0.value.loading != nil }
            }
            let learned = entries[namespace]?.learned ?? 0
            let task = Task { try await self.load(namespace, store: store, startedAt: now, learned: learned) }
            entries[namespace, default: Entry()].loading = task
            return task
        }
        guard let load else { return entries.withLock { $0[namespace]?.types ?? [:] } }
        return try await load.value
    }

    /// The namespace's snapshot if it is fresh, without waiting: nil when it must be read first.
    func freshTypes(in namespace: Namespace) -> [String: PropertyType]? {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard let entry = entries[namespace], entry.loading == nil, isFresh(entry, at: now) else { return nil }
            return entry.types
        }
    }

    private func isFresh(_ entry: Entry, at now: ContinuousClock.Instant) -> Bool {
        guard let loadedAt = entry.loadedAt else { return false }
        return entry.learned == entry.learnedSeen && now - loadedAt < maxAge
    }

    private func load(_ namespace: Namespace, store: any ProfileStore, startedAt: ContinuousClock.Instant,
                      learned: Int) async throws -> [String: PropertyType] {
        EngineMetrics.typeSnapshotLoads.increment()
        do {
            let types = try await store.registeredTypes(in: namespace)
            entries.withLock { entries in
                entries[namespace, default: Entry()].types = types
                entries[namespace]?.loadedAt = startedAt
                // A store of a new type during the read may be missing from it: then the snapshot stays due.
                entries[namespace]?.learnedSeen = learned
                entries[namespace]?.loading = nil
            }
            return types
        } catch {
            entries.withLock { $0[namespace]?.loading = nil }
            throw error
        }
    }

    /// Makes the namespace's snapshot due if `record` stored a property it lacks.
    func learn(from record: RequestRecord, in namespace: Namespace) {
        entries.withLock { entries in
            guard let entry = entries[namespace] else { return }
            let stored = record.propertyResults.contains { result in
                (result.outcome == .set || result.outcome == .addedByRule) && entry.types[result.name] == nil
            }
            if stored { entries[namespace]?.learned += 1 }
        }
    }

    /// Namespaces with a snapshot now.
    var namespaceCount: Int { entries.withLock { $0.count } }
}
