import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// Runs cohort queries (SPEC §8) one at a time on a read-only connection of
/// their own: a short one on its caller's thread, a long one on a thread of
/// their own at a lower CPU priority (nice 10).
///
/// A query never holds the write lock (it reads a WAL snapshot), but a long
/// count keeps a core busy: on a small machine it took a quarter of the
/// writes' CPU. At nice 10 the scheduler gives writes the core first, and a
/// query takes what is left. The niceness is set once, on this thread only
/// (Linux's `setpriority` on a thread id): the pool's readers, which GET
/// requests use, keep theirs.
///
/// Handing a query to the thread and its answer back costs two thread
/// wake-ups, ~30 µs here: most of a one-profile query. So ``answer(_:)``
/// first runs a query where it is asked, when no other is running or
/// waiting, and the query itself gives way (``GiveWay``) once past a short
/// time there, to run again on the thread.
final class QueryThread: @unchecked Sendable {
    /// Where a query's body runs.
    enum Attempt: Sendable { case caller, thread }

    /// Thrown by a body on its caller's thread to run again on the query thread.
    struct GiveWay: Error {}

    private let connection: DatabaseQueue
    /// The connection's prepared statements; touched by the running query only.
    private let statements = QueryStatements()
    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var jobs: [(Database, QueryStatements) -> Void] = []
    /// A query is running, on this thread or its caller's.
    private var busy = false
    private var stopped = false
    /// Resumed once the thread has ended and closed its connection.
    private var onStop: CheckedContinuation<Void, Never>?

    init(path: String, configuration: Configuration) throws {
        var configuration = configuration
        configuration.readonly = true
        connection = try DatabaseQueue(path: path, configuration: configuration)
        let thread = Thread { [self] in
            #if os(Linux)
            if let id = Self.threadID() { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id, 10) }
            #endif
            while let job = next() {
                try? inSnapshot(job)
                finished()
            }
            statements.removeAll()
            try? connection.close()
            condition.lock()
            let stopping = onStop
            condition.unlock()
            stopping?.resume()
        }
        thread.name = "onced.sqlite.query"
        thread.start()
    }

    #if os(Linux)
    /// This thread's kernel id, from `/proc/thread-self` ("PID/task/TID"): Glibc's `gettid` is not visible to Swift.
    private static func threadID() -> id_t? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self") else { return nil }
        return target.split(separator: "/").last.flatMap { id_t($0) }
    }
    #endif

    /// The next job, waiting for one and for a query on a caller's thread to end; nil once stopped.
    private func next() -> ((Database, QueryStatements) -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while busy || (jobs.isEmpty && !stopped) { condition.wait() }
        guard !jobs.isEmpty else { return nil }
        busy = true
        return jobs.removeFirst()
    }

    /// Ends the running query's turn, waking this thread only if it has something to do.
    private func finished() {
        condition.lock()
        busy = false
        if !jobs.isEmpty || stopped { condition.signal() }
        condition.unlock()
    }

    /// `body` on the caller's thread (`.caller`) when no query is running or
    /// queued; on this thread (`.thread`) when one is, or when `body` throws
    /// ``GiveWay``, after the queries queued before it.
    func answer<T: Sendable>(_ body: @escaping @Sendable (Database, QueryStatements, Attempt) throws -> T) async throws -> T {
        if takeTurn() {
            defer { finished() }
            do {
                return try inSnapshot { db, statements in try body(db, statements, .caller) }
            } catch is GiveWay {}
        }
        return try await read { db, statements in try body(db, statements, .thread) }
    }

    /// `body` in a read transaction (a WAL snapshot) on the calling thread
    /// (a synchronous dispatch to GRDB's queue). Begun and ended by kept
    /// statements: GRDB's `read` parses its `BEGIN` and `COMMIT` anew each
    /// time, a sixth of a one-profile query.
    private func inSnapshot<T>(_ body: (Database, QueryStatements) throws -> T) throws -> T {
        try connection.inDatabase { db in
            func execute(_ sql: String) throws { try SQLiteBinder.run(db.cachedStatement(sql: sql), in: db) { _ in } }
            try execute("BEGIN DEFERRED")
            do {
                let result = try body(db, statements)
                try execute("COMMIT")
                return result
            } catch {
                if db.isInsideTransaction { try? execute("ROLLBACK") }
                throw error
            }
        }
    }

    /// Queries waiting for this thread.
    var waiting: Int {
        condition.lock()
        defer { condition.unlock() }
        return jobs.count
    }

    /// Whether the caller may run a query now: none is running or waiting.
    private func takeTurn() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !busy && jobs.isEmpty && !stopped else { return false }
        busy = true
        return true
    }

    /// `body` in a read transaction on this thread, after the queries queued
    /// before it, with the statements they prepared.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database, QueryStatements) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            guard !stopped else { return continuation.resume(throwing: StoreError.closed) }
            jobs.append { db, statements in continuation.resume(with: Result { try body(db, statements) }) }
            condition.signal()
        }
    }

    /// Lets the queued queries finish, ends the thread and closes its
    /// connection. The store's read-write connections close after it: the last
    /// connection to close empties the WAL, and a read-only one cannot, which
    /// left the next process (an export) reading through a WAL of ~90 MB.
    func stop() async {
        await withCheckedContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            guard !stopped else { return continuation.resume() }
            stopped = true
            onStop = continuation
            condition.signal()
        }
    }
}
