import OnceEngine
import Synchronization

/// A property's registered type, and how many times the property had been
/// dropped when it was registered (SPEC §9).
///
/// Value rows are keyed by name, so the values written after a drop need
/// another key than the old ones the drop leaves for the background to
/// delete: the n-th generation of `plan` is stored as `$n$plan`, which no
/// property name can be (names never start with `$`).
struct Registration: Hashable, Sendable {
    var type: PropertyType
    var generation: Int64

    /// The name this registration's values are stored under.
    func storedName(of name: String) -> String {
        Self.storedName(of: name, generation: generation)
    }

    /// `name`'s stored name in `generation` (``PostgresTransaction/deleteProperty`` spells the same in SQL).
    static func storedName(of name: String, generation: Int64) -> String {
        generation == 0 ? name : "$\(generation)$\(name)"
    }

    /// The property a stored name belongs to.
    static func propertyName(stored: String) -> String {
        guard stored.hasPrefix("$"), let end = stored.dropFirst().firstIndex(of: "$") else { return stored }
        return String(stored[stored.index(after: end)...])
    }
}

/// Registered property types known to this process.
///
/// A registration changes only when its property is dropped (SPEC §9), so an
/// entry stays good, even with other processes writing the same store, until
/// the store's drop count moves (``check(drops:)``): the cache only saves the
/// lookup. Entries are added only after the transaction that read or
/// registered them has committed. It holds at most ``capacity`` entries and
/// starts afresh past that, so a stream of new names cannot grow it without end.
final class TypeCache: Sendable {
    private struct Entries {
        var registrations: [PropertyName: Registration] = [:]
        /// The store's drop count when these were learned.
        var drops: Int64 = 0
    }

    private let entries = Mutex(Entries())
    let capacity: Int

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    var count: Int { entries.withLock { $0.registrations.count } }

    func registration(of name: String, in namespace: Namespace) -> Registration? {
        entries.withLock { $0.registrations[PropertyName(namespace: namespace, name: name)] }
    }

    func remember(_ learned: [PropertyName: Registration]) {
        guard !learned.isEmpty else { return }
        entries.withLock { entries in
            if entries.registrations.count + learned.count > capacity { entries.registrations.removeAll(keepingCapacity: true) }
            entries.registrations.merge(learned) { old, _ in old }
        }
    }

    /// Forgets every type when the store's drop count differs from the one
    /// they were learned under. Call in each write transaction before its requests run.
    func check(drops: Int64) {
        entries.withLock { entries in
            guard entries.drops != drops else { return }
            entries.registrations.removeAll(keepingCapacity: true)
            entries.drops = drops
        }
    }
}

/// One request's view of the registered types: the cache, then what the
/// request itself read or registered (kept apart until it commits), then the store.
struct TypeLookup {
    let cache: TypeCache
    let namespace: Namespace
    /// Registrations read or registered by this request; ``TypeCache/remember(_:)`` them once it commits.
    private(set) var learned: [PropertyName: Registration] = [:]
    /// Every registration this request has looked up, by name: what its writes store values under.
    private(set) var resolved: [String: Registration] = [:]

    /// `known`: registrations the transaction has already read or registered (they count as learned).
    init(cache: TypeCache, namespace: Namespace, known: [PropertyName: Registration] = [:]) {
        self.cache = cache
        self.namespace = namespace
        self.learned = known
    }

    /// The namespace's registration of `name`, registering `candidate` if it has
    /// none (`register`), then reading the winner back (`readBack`: the stored
    /// type name and the generation).
    mutating func registration(of name: String, registering candidate: PropertyType?,
                               register: (PropertyType) throws -> Void,
                               readBack: () throws -> (type: String, generation: Int64)?) throws -> Registration? {
        let key = PropertyName(namespace: namespace, name: name)
        if let known = cache.registration(of: name, in: namespace) ?? learned[key] {
            resolved[name] = known
            return known
        }
        if let candidate { try register(candidate) }
        guard let stored = try readBack() else { return nil }
        let registration = Registration(type: try PropertyType(stored: stored.type), generation: stored.generation)
        learned[key] = registration
        resolved[name] = registration
        return registration
    }
}
