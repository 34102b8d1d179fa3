import Foundation
import Logging
import NIOCore
import NIOPosix
import OnceEngine
import PostgresNIO
import Synchronization

/// The writer's one connection, used only from the group-commit queue.
///
/// Every call blocks that queue's thread (never an event loop or the
/// cooperative pool) and has a deadline: postgres-nio itself would wait for an
/// unanswered query forever. A broken connection is dropped and opened again
/// on the next call, no sooner than a backoff that doubles up to a few seconds,
/// so a PostgreSQL outage costs fast, clean failures rather than piled-up waits.
final class PostgresSession {
    private let configuration: PostgresConnection.Configuration
    private let queryTimeout: TimeAmount
    private let logger: Logger
    private var connection: PostgresConnection?
    private var retryAfter = NIODeadline.distantPast
    private var backoff = TimeAmount.milliseconds(50)
    private static let maxBackoff = TimeAmount.seconds(2)
    private static let connectionIDs = Mutex(0)

    init(configuration: PostgresConnection.Configuration, queryTimeout: TimeInterval, logger: Logger) {
        self.configuration = configuration
        self.queryTimeout = .milliseconds(Int64(queryTimeout * 1000))
        self.logger = logger
    }

    /// Runs one statement with these parameters (`$1`, `$2`, …; nil binds NULL).
    @discardableResult
    func run(_ sql: String, _ values: (any PostgresDynamicTypeEncodable)?...) throws -> PostgresQueryResult {
        try run(sql, binds: PostgresBindings(values))
    }

    /// Runs one statement and returns its rows and row count.
    @discardableResult
    func run(_ sql: String, binds: PostgresBindings) throws -> PostgresQueryResult {
        let connection = try open()
        do {
            // Our own timer ends the wait even if postgres-nio never fails a
            // query whose connection it lost.
            return try Self.wait(for: connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger),
                                 within: queryTimeout) { _ in }
        } catch {
            let failure = PostgresFailure(error, connectionLost: connection.isClosed)
            if failure.kind == .unavailable {
                logger.warning("PostgreSQL call failed: \(String(reflecting: error))")
                Self.discard(connection)  // its state is unknown: start afresh
                self.connection = nil
            }
            throw failure
        }
    }

    /// Rolls back the open transaction, if its connection still stands. A lost
    /// connection took its transaction with it, and a new connection has none
    /// to roll back: opening one here would only stall the writer in an outage.
    func rollback() {
        guard let connection, !connection.isClosed else { return }
        _ = try? run("ROLLBACK")
    }

    /// A store dropped without `close()` (a program that forgot, a test that threw)
    /// still closes its connection, instead of tripping postgres-nio's debug
    /// assertion and taking the process down.
    deinit {
        if let connection, !connection.isClosed { Self.discard(connection) }
    }

    /// Closes the connection; a later call opens a new one.
    func close() {
        let closing: EventLoopFuture<Void>? = connection?.close()
        try? closing?.wait()
        connection = nil
    }

    private func open() throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        connection = nil
        guard NIODeadline.now() >= retryAfter else {
            throw PostgresFailure.unavailable("PostgreSQL is unreachable; retrying shortly")
        }
        let id = Self.connectionIDs.withLock { $0 += 1; return $0 }
        // A writer waiting on another process's long transaction gives up and
        // retries its batch well before the statement deadline cuts the connection.
        let lockTimeout = max(1, queryTimeout.nanoseconds / 2_000_000)
        let logger = self.logger
        let opening = PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.any(),
                                                 configuration: configuration, id: id, logger: logger)
            .flatMap { connection in
                connection.query(PostgresQuery(unsafeSQL: "SET lock_timeout = \(lockTimeout)"), logger: logger)
                    .map { _ in connection }
                    .flatMapErrorThrowing { error in
                        Self.discard(connection)
                        throw error
                    }
            }
        do {
            // The connect timeout covers TCP only: a server that accepts and then
            // stalls during start-up must not hold the writer either.
            let opened = try Self.wait(for: opening, within: configuration.options.connectTimeout + queryTimeout) { late in
                Self.discard(late)
            }
            connection = opened
            backoff = .milliseconds(50)
            return opened
        } catch {
            retryAfter = .now() + backoff
            backoff = min(backoff * 2, Self.maxBackoff)
            logger.warning("cannot connect to PostgreSQL: \(String(reflecting: error))")
            throw PostgresFailure.unavailable("cannot connect to PostgreSQL")
        }
    }

    /// Closes a connection we are done with, holding it until the close completes:
    /// postgres-nio asserts that a connection is closed before it deinitializes.
    private static func discard(_ connection: PostgresConnection) {
        let closing: EventLoopFuture<Void> = connection.close()
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// Waits for `future` at most `timeout`; a value that arrives later goes to `discard`.
    private static func wait<T: Sendable>(for future: EventLoopFuture<T>, within timeout: TimeAmount,
                                          discard: @escaping @Sendable (T) -> Void) throws -> T {
        let promise = future.eventLoop.makePromise(of: T.self)
        let first = FirstOnly()
        let timer = future.eventLoop.scheduleTask(in: timeout) {
            if first.claim() { promise.fail(PostgresFailure.unavailable("PostgreSQL did not answer in time")) }
        }
        future.whenComplete { result in
            timer.cancel()
            if first.claim() { promise.completeWith(result) } else if case .success(let late) = result { discard(late) }
        }
        return try promise.futureResult.wait()
    }
}

/// True for the first caller only.
private final class FirstOnly: Sendable {
    private let claimed = Mutex(false)

    func claim() -> Bool {
        claimed.withLock { claimed in
            defer { claimed = true }
            return !claimed
        }
    }
}

/// A failed PostgreSQL call, sorted by what the caller should do about it.
struct PostgresFailure: Error, CustomStringConvertible {
    enum Kind {
        /// Serialization failure, deadlock or lock timeout: run the transaction again.
        case retry
        /// The server is gone or did not answer in time; whether a commit landed is unknown.
        case unavailable
        /// The statement itself failed; the transaction is aborted.
        case statement
    }

    var kind: Kind
    var description: String

    static func unavailable(_ description: String) -> Self {
        PostgresFailure(kind: .unavailable, description: description)
    }

    private init(kind: Kind, description: String) {
        self.kind = kind
        self.description = description
    }

    init(_ error: any Error, connectionLost: Bool) {
        if let failure = error as? PostgresFailure {
            self = failure
            return
        }
        let sqlState = (error as? PSQLError)?.serverInfo?[.sqlState]
        switch sqlState {
        case "40001", "40P01", "55P03":
            self.init(kind: .retry, description: "transaction conflict (\(sqlState!))")
        case let state? where !connectionLost && !state.hasPrefix("08") && !state.hasPrefix("57"):
            let message = (error as? PSQLError)?.serverInfo?[.message] ?? "statement failed"
            self.init(kind: .statement, description: "PostgreSQL error \(state): \(message)")
        default:
            self.init(kind: .unavailable, description: "PostgreSQL connection lost")
        }
    }
}

extension PostgresBindings {
    init(_ values: [(any PostgresDynamicTypeEncodable)?]) {
        self.init(capacity: values.count)
        for value in values {
            if let value { append(value) } else { appendNull() }
        }
    }
}
