import GRDB
import Logging
import Synchronization

/// The first write failure that leaves the database file in doubt: an I/O
/// error, a full disk, a failed fsync, a corrupt page. Once recorded it stays
/// until the process restarts, and the store refuses every write meanwhile.
///
/// Retrying is not safe: after a failed fsync the kernel may have dropped the
/// dirty pages and marked them clean, so a later fsync "succeeds" without the
/// data (PostgreSQL's 2018 fsync finding, after which it stops instead). A
/// restart opens the file afresh and SQLite recovers it from the WAL.
final class DiskFault: Sendable {
    private let reason = Mutex<String?>(nil)
    private let logger = Logger(label: "onced.sqlite")

    /// Why writes are refused, or nil while the store is healthy.
    var current: String? { reason.withLock { $0 } }

    /// Records `error` if it is such a failure (the first one is kept). Returns whether it was.
    @discardableResult
    func record(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError, Self.isFault(error) else { return false }
        let first = reason.withLock { reason -> Bool in
            guard reason == nil else { return false }
            reason = "SQLite error \(error.extendedResultCode.rawValue): \(error.message ?? "no detail")"
            return true
        }
        if first {
            logger.error("writes refused until restart: the database file can no longer be trusted",
                         metadata: ["error": "\(error)"])
        }
        return true
    }

    static func isFault(_ error: DatabaseError) -> Bool {
        switch error.resultCode {
        case .SQLITE_IOERR, .SQLITE_FULL, .SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_CANTOPEN: true
        default: false
        }
    }
}

extension DiskFault {
    /// Records the first disk fault among a batch's failures; returns the store's fault reason if there is one now.
    func record(failureIn results: [Result<RequestRecord, any Error>]) -> String? {
        for case .failure(let error) in results {
            if record(error) { break }
        }
        return current
    }
}
