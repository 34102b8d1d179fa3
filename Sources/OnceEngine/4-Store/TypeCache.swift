import Synchronization

/// Registered property types known to this process.
///
/// A registration changes only when its property is dropped (SPEC §9), so an
/// entry stays good, even with other processes writing the same store, until
/// the store's drop count moves (``check(drops:)``): the cache only saves the
/// lookup. Entries are added only after the transaction that read or
/// registered them has committed. It holds at most ``capacity`` entries and
/// starts afresh past that, so a stream of new names cannot grow it without end.
package final class TypeCache: Sendable {
    package struct Key: Hashable, Sendable {
        package var namespace: Namespace
        package var name: String

        package init(namespace: Namespace, name: String) {
            self.namespace = namespace
            self.name = name
        }
    }

    private struct Entries {
        var types: [Key: PropertyType] = [:]
        /// The store's drop count when these were learned.
        var drops: Int64 = 0
    }

    private let entries = Mutex(Entries())
    package let capacity: Int

    package init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    package var count: Int { entries.withLock { $0.types.count } }

    package func type(of name: String, in namespace: Namespace) -> PropertyType? {
        entries.withLock { $0.types[Key(namespace: namespace, name: name)] }
    }

    package func remember(_ learned: [Key: PropertyType]) {
        guard !learned.isEmpty else { return }
        entries.withLock { entries in
            if entries.types.count + learned.count > capacity { entries.types.removeAll(keepingCapacity: true) }
            entries.types.merge(learned) { old, _ in old }
        }
    }

    /// Forgets every type when the store's drop count differs from the one
    /// they were learned under. Call in each write transaction before its requests run.
    package func check(drops: Int64) {
        entries.withLock { entries in
            guard entries.drops != drops else { return }
            entries.types.removeAll(keepingCapacity: true)
            entries.drops = drops
        }
    }
}

/// One request's view of the registered types: the cache, then what the
/// request itself read or registered (kept apart until it commits), then the
/// store. Every store resolves a type the same way; only its two statements differ.
package struct TypeLookup {
    let cache: TypeCache
    let namespace: Namespace
    /// Types read or registered by this request; ``TypeCache/remember(_:)`` them once it commits.
    package private(set) var learned: [TypeCache.Key: PropertyType] = [:]

    /// `known`: types the transaction has already read or registered (they count as learned).
    package init(cache: TypeCache, namespace: Namespace, known: [TypeCache.Key: PropertyType] = [:]) {
        self.cache = cache
        self.namespace = namespace
        self.learned = known
    }

    /// The namespace's type for `name`, registering `candidate` if it has none
    /// (`register`), then reading the winner back (`readBack`, the stored type name).
    package mutating func type(of name: String, registering candidate: PropertyType?,
                               register: (PropertyType) throws -> Void,
                               readBack: () throws -> String?) throws -> PropertyType? {
        let key = TypeCache.Key(namespace: namespace, name: name)
        if let known = cache.type(of: name, in: namespace) ?? learned[key] { return known }
        if let candidate { try register(candidate) }
        guard let stored = try readBack() else { return nil }
        let type = try PropertyType(stored: stored)
        learned[key] = type
        return type
    }
}
