import Foundation

/// Lua states of one generation, reused across requests.
///
/// A state costs ~150 µs to build and load, so none is built per request.
/// Rule code never suspends, so at most one state per running thread is
/// checked out at once; when all are busy another is built, and the pool
/// keeps up to `capacity` of them.
final class LuaStatePool: @unchecked Sendable {
    // @unchecked: a LuaState is used by one caller at a time — whoever checked it out.
    private let lock = NSLock()
    private var idle: [LuaState]
    private let make: () throws(RuleLoadError) -> LuaState
    let capacity: Int

    init(capacity: Int, initial: [LuaState], make: @escaping () throws(RuleLoadError) -> LuaState) {
        self.capacity = capacity
        self.make = make
        idle = initial
    }

    /// Runs `body` with a state of its own, as one request (its hook calls share the request budget).
    func withState<T>(_ body: (LuaState) throws -> T) throws -> T {
        let reused = lock.withLock { idle.popLast() }
        let state = try reused ?? make()
        defer {
            lock.withLock {
                if idle.count < capacity { idle.append(state) }
            }
        }
        return try state.withRequest { try body(state) }
    }
}
