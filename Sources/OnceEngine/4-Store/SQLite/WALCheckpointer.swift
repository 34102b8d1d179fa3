import Dispatch
import GRDB
import Synchronization

/// Copies committed WAL pages into the database file on a connection and
/// queue of its own, so the commit thread seldom stalls on a checkpoint.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its
/// threshold, on the one writer every request waits for: under a steady load
/// of small commits it took ~17 % of that thread. A `PASSIVE` checkpoint needs
/// no write lock, so here it runs beside the writer. The writer keeps a
/// larger automatic checkpoint (``SQLiteStore/writerAutoCheckpointPages``) as
/// a backstop: it is what lets the WAL start again from its beginning, and it
/// is cheap because little is left to copy by then.
final class WALCheckpointer: Sendable {
    /// Commits that land within this delay share one checkpoint, so a page
    /// written by many of them is copied once.
    static let delay: DispatchTimeInterval = .milliseconds(20)

    private struct State {
        var scheduled = false
        var closed = false
    }

    private let database: DatabaseQueue
    private let queue = DispatchQueue(label: "onced.sqlite.checkpoint", qos: .utility)
    private let state = Mutex(State())
    private let fault: DiskFault

    /// Opens a second connection to the WAL database at `path`; I/O failures go to `fault`.
    init(path: String, fault: DiskFault) throws {
        var configuration = Configuration()
        // A truncating checkpoint waits this long for readers to leave the WAL.
        configuration.busyMode = .timeout(1)
        database = try DatabaseQueue(path: path, configuration: configuration)
        self.fault = fault
    }

    /// Schedules a checkpoint unless one is already due. Cheap: called after every commit.
    func commitDidLand() {
        let schedule = state.withLock { state in
            guard !state.scheduled && !state.closed else { return false }
            state.scheduled = true
            return true
        }
        if schedule { queue.asyncAfter(deadline: .now() + Self.delay) { self.checkpoint() } }
    }

    private func checkpoint() {
        let open = state.withLock { state in
            state.scheduled = false
            return !state.closed
        }
        // A checkpoint that fails because another process holds the checkpoint
        // lock loses nothing: the pages stay in the WAL for the next one. One
        // that fails on I/O leaves the file in doubt (see ``DiskFault``).
        guard open else { return }
        do {
            _ = try database.writeWithoutTransaction { try $0.checkpoint(.passive) }
        } catch {
            fault.record(error)
        }
    }

    /// Copies the whole WAL into the file and truncates it to nothing (after
    /// an erasure: the WAL still holds the erased rows' old pages); returns
    /// once done. A reader that keeps it from finishing for a second makes it
    /// return anyway and try again every second, for a minute, on its own.
    func truncate() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async {
                self.truncateNow(retries: Self.truncateRetries)
                done.resume()
            }
        }
    }

    static let truncateRetries = 60

    private func truncateNow(retries: Int) {
        guard !state.withLock({ $0.closed }) else { return }
        do {
            _ = try database.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        } catch let error as DatabaseError where error.isBusy {
            if retries > 0 { queue.asyncAfter(deadline: .now() + 1) { self.truncateNow(retries: retries - 1) } }
        } catch {
            fault.record(error)
        }
    }

    /// Waits for a running checkpoint and closes the connection, before the
    /// store's own connections close (the last one to close empties the WAL).
    func close() throws {
        state.withLock { $0.closed = true }
        queue.sync {}
        try database.close()
    }
}
