import Synchronization

/// Registered property types known to this process.
///
/// A registration never changes once made (SPEC §1), so an entry can never go
/// stale, even with other processes writing the same store: the cache only
/// saves the lookup. Entries are added only after the transaction that read or
/// registered them has committed.
final class TypeCache: Sendable {
    struct Key: Hashable, Sendable {
        var namespace: Namespace
        var name: String
    }

    private let types = Mutex<[Key: PropertyType]>([:])

    func type(of name: String, in namespace: Namespace) -> PropertyType? {
        types.withLock { $0[Key(namespace: namespace, name: name)] }
    }

    func remember(_ learned: [Key: PropertyType]) {
        guard !learned.isEmpty else { return }
        types.withLock { $0.merge(learned) { old, _ in old } }
    }
}
