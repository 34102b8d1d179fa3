import Foundation
import Logging
import OnceEngine
import OncePostgres
import PostgresNIO

/// A fresh, empty data set for one test: a SQLite file in a temporary
/// directory, or a new database on the test PostgreSQL server.
public struct TestDataSet: Sendable {
    public enum Kind: String, CaseIterable, Sendable {
        case sqlite, postgres
    }

    public let kind: Kind
    public let directory: TemporaryDirectory
    /// The new database's URL (PostgreSQL only).
    public let postgresURL: String?

    public static func fresh(_ kind: Kind, in directory: TemporaryDirectory = TemporaryDirectory()) async throws -> TestDataSet {
        TestDataSet(kind: kind, directory: directory,
                    postgresURL: kind == .postgres ? try await TestPostgres.newDatabase() : nil)
    }

    public var sqlitePath: String { directory.path("onced.db") }

    /// How `onced` names this data set on its command line.
    public var arguments: [String] {
        switch kind {
        case .sqlite: ["--db", sqlitePath]
        case .postgres: ["--postgres", postgresURL!]
        }
    }

    /// The store, opened as `onced` would open it.
    /// - Parameter postgresQueryTimeout: the PostgreSQL store's statement deadline, for a test
    ///   that measures something other than time on a machine the whole suite loads at once.
    public func open(postgresQueryTimeout: TimeInterval? = nil) async throws -> any ProfileStore & KeyStore {
        switch kind {
        case .sqlite: return try SQLiteStore(path: sqlitePath)
        case .postgres:
            var options = PostgresStore.Options()
            if let postgresQueryTimeout { options.queryTimeout = postgresQueryTimeout }
            return try await PostgresStore.open(PostgresURL(postgresURL!), options: options)
        }
    }
}

/// The PostgreSQL server the tests use: `scripts/with-postgres` (run by
/// `make test`) starts one and names it in `ONCED_TEST_POSTGRES_URL`.
public enum TestPostgres {
    public static var serverURL: PostgresURL {
        get throws {
            guard let text = ProcessInfo.processInfo.environment["ONCED_TEST_POSTGRES_URL"] else {
                throw TestSetupError("ONCED_TEST_POSTGRES_URL is not set: run the tests with `make test`, "
                                     + "or `scripts/with-postgres swift test`")
            }
            return try PostgresURL(text)
        }
    }

    /// Creates an empty database on `server` (the shared test server by default) and returns its URL.
    public static func newDatabase(on server: PostgresURL? = nil) async throws -> String {
        let server = try server ?? serverURL
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await execute("CREATE DATABASE \(name)", on: server)
        var url = server
        url.database = name
        return "postgres://\(url.username)@\(url.host):\(url.port)/\(name)?sslmode=disable"
    }

    /// Runs one statement (DDL, test fixtures) on `url`'s database.
    public static func execute(_ sql: String, on url: PostgresURL) async throws {
        _ = try await rows(sql, on: url)
    }

    /// The first column of the first row of a query, as an integer.
    public static func integer(_ sql: String, on url: PostgresURL) async throws -> Int64 {
        guard let row = try await rows(sql, on: url).first else { throw TestSetupError("no row from: \(sql)") }
        return try row.decode(Int64.self)
    }

    /// Every row of one statement, on a connection of its own (connect and statement bounded in time).
    private static func rows(_ sql: String, on url: PostgresURL) async throws -> [PostgresRow] {
        var configuration = PostgresConnection.Configuration(host: url.host, port: url.port, username: url.username,
                                                             password: url.password, database: url.database, tls: .disable)
        configuration.options.connectTimeout = .seconds(10)
        let logger = Logger(label: "onced.tests")
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        let deadline = connection.eventLoop.scheduleTask(in: .seconds(60)) { let _: EventLoopFuture<Void> = connection.close() }
        defer { deadline.cancel() }
        do {
            var rows: [PostgresRow] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) { rows.append(row) }
            try await connection.close()
            return rows
        } catch {
            try? await connection.close()
            throw error
        }
    }
}

public struct TestSetupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
