import Synchronization

/// The integer ids storage v2 gives namespaces and property names, known to
/// this process.
///
/// A namespace's id never changes and a property name's id and type change
/// only when the property is dropped, so entries stay good across processes
/// until the file's drop count moves (``check(drops:)``); they are added only
/// after the transaction that read or made them has committed. Names are
/// bounded: past ``capacity`` the map starts afresh.
final class SQLiteIDs: Sendable {
    struct NameKey: Hashable, Sendable {
        var namespace: Int64
        var name: String
    }

    /// A property name's id and the type registered with it.
    struct RegisteredName: Sendable, Equatable {
        var id: Int64
        var type: PropertyType
    }

    private struct Names {
        var byKey: [NameKey: RegisteredName] = [:]
        /// The file's drop count when these were learned.
        var drops: Int64 = 0
    }

    private let namespaces = Mutex<[Namespace: Int64]>([:])
    private let names = Mutex(Names())
    let capacity: Int

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    func namespace(_ namespace: Namespace) -> Int64? {
        namespaces.withLock { $0[namespace] }
    }

    func name(_ key: NameKey) -> RegisteredName? {
        names.withLock { $0.byKey[key] }
    }

    /// Forgets a name this process dropped, at once: later requests of the
    /// same batch must look it up again.
    func forget(_ key: NameKey) {
        _ = names.withLock { $0.byKey.removeValue(forKey: key) }
    }

    /// Forgets every name when the file's drop count differs from the one the
    /// names were learned under (another process dropped one). Call in each
    /// write transaction before its requests run.
    func check(drops: Int64) {
        names.withLock { names in
            guard names.drops != drops else { return }
            names.byKey.removeAll(keepingCapacity: true)
            names.drops = drops
        }
    }

    /// Call only once the transaction that found these has committed.
    func remember(namespaces learned: [Namespace: Int64], names found: [NameKey: RegisteredName]) {
        if !learned.isEmpty {
            namespaces.withLock { namespaces in
                if namespaces.count + learned.count > capacity { namespaces.removeAll(keepingCapacity: true) }
                namespaces.merge(learned) { old, _ in old }
            }
        }
        guard !found.isEmpty else { return }
        names.withLock { names in
            if names.byKey.count + found.count > capacity { names.byKey.removeAll(keepingCapacity: true) }
            names.byKey.merge(found) { old, _ in old }
        }
    }
}
