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
        let deadline = connection.eventLoop.scheduleTask(in: queryTimeout) {
            let closing: EventLoopFuture<Void> = connection.close()  // fails the query below; the connection is replaced
            closing.whenComplete { _ in }
        }
        defer { deadline.cancel() }
        do {
            return try connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).wait()
        } catch {
            if connection.isClosed { self.connection = nil }
            throw PostgresFailure(error, connectionLost: connection.isClosed)
        }
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
        do {
            let opened = try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.any(),
                                                        configuration: configuration, id: id, logger: logger).wait()
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
}

/// A failed PostgreSQL call, sorted by what the caller should do about it.
struct PostgresFailure: Error, CustomStringConvertible {
    enum Kind {
        /// Serialization failure or deadlock: run the transaction again.
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
        case "40001", "40P01":
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
