import Synchronization

/// Registered property types known to this process.
///
/// A registration never changes once made (SPEC §1), so an entry can never go
/// stale, even with other processes writing the same store: the cache only
/// saves the lookup. Entries are added only after the transaction that read or
/// registered them has committed.
package final class TypeCache: Sendable {
    package struct Key: Hashable, Sendable {
        package var namespace: Namespace
        package var name: String

        package init(namespace: Namespace, name: String) {
            self.namespace = namespace
            self.name = name
        }
    }

    private let types = Mutex<[Key: PropertyType]>([:])

    package init() {}

    package func type(of name: String, in namespace: Namespace) -> PropertyType? {
        types.withLock { $0[Key(namespace: namespace, name: name)] }
    }

    package func remember(_ learned: [Key: PropertyType]) {
        guard !learned.isEmpty else { return }
        types.withLock { $0.merge(learned) { old, _ in old } }
    }
}
