import Foundation
import Synchronization

/// What `ctx.type_of` answers from: each namespace's registered types, kept in
/// memory so a hook never waits on the store.
///
/// A registration never changes, so a snapshot is never wrong, only possibly
/// short of types registered since: it is reloaded when a second old, and at
/// once after this process stores a property the snapshot does not know.
final class TypeSnapshots: Sendable {
    private struct Entry {
        var types: [String: PropertyType]
        var loadedAt: Date
        var stale = false
    }

    private let entries = Mutex<[Namespace: Entry]>([:])
    let maxAge: TimeInterval

    init(maxAge: TimeInterval = 1) {
        self.maxAge = maxAge
    }

    func types(in namespace: Namespace, store: any ProfileStore) async throws -> [String: PropertyType] {
        let now = Date()
        if let entry = entries.withLock({ $0[namespace] }), !entry.stale, now.timeIntervalSince(entry.loadedAt) < maxAge {
            return entry.types
        }
        let types = try await store.registeredTypes(in: namespace)
        entries.withLock { $0[namespace] = Entry(types: types, loadedAt: now) }
        return types
    }

    /// Marks the namespace for reload if `record` stored a property the snapshot lacks.
    func learn(from record: RequestRecord, in namespace: Namespace) {
        entries.withLock { entries in
            guard let entry = entries[namespace], !entry.stale else { return }
            let stored = record.propertyResults.contains { result in
                (result.outcome == .set || result.outcome == .addedByRule) && entry.types[result.name] == nil
            }
            if stored { entries[namespace]?.stale = true }
        }
    }
}
