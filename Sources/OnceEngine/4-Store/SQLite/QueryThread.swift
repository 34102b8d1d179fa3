import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// Runs cohort queries (SPEC §8) one at a time on a thread of their own at a
/// lower CPU priority (nice 10), with a read-only connection of their own.
///
/// A query never holds the write lock (it reads a WAL snapshot), but a long
/// count keeps a core busy: on a small machine it took a quarter of the
/// writes' CPU. At nice 10 the scheduler gives writes the core first, and a
/// query takes what is left. The niceness is set once, on this thread only
/// (Linux's `setpriority` on a thread id): the pool's readers, which GET
/// requests use, keep theirs.
final class QueryThread: @unchecked Sendable {
    private let connection: DatabaseQueue
    /// The connection's prepared statements; touched on this thread only.
    private let statements = QueryStatements()
    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var jobs: [(Database, QueryStatements) -> Void] = []
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
                // `read` runs its body on the calling thread (a synchronous dispatch to GRDB's queue).
                try? connection.read { db in job(db, statements) }
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

    /// The next job, waiting for one; nil once stopped.
    private func next() -> ((Database, QueryStatements) -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty && !stopped { condition.wait() }
        return stopped && jobs.isEmpty ? nil : jobs.removeFirst()
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
