import Foundation
import NIOSSL
import PostgresNIO

/// A `postgres://user:password@host:port/database?sslmode=…` URL, as libpq reads it.
///
/// `sslmode` is `disable`, `prefer` (the default: TLS when the server offers it)
/// or `require`.
public struct PostgresURL: Sendable, CustomStringConvertible {
    /// The server's host name or address.
    public var host: String
    /// 5432 unless the URL names another.
    public var port: Int
    /// The role to connect as.
    public var username: String
    /// Nil for trust or peer authentication.
    public var password: String?
    /// The database holding onced's tables.
    public var database: String
    /// Whether to use TLS.
    public var sslMode: SSLMode

    /// libpq's `sslmode` values that onced supports.
    public enum SSLMode: String, Sendable {
        /// Never TLS.
        case disable
        /// TLS when the server offers it.
        case prefer
        /// TLS or no connection.
        case require
    }

    /// Parses `text`; the error says which part is wrong.
    public init(_ text: String) throws(PostgresURLError) {
        guard let components = URLComponents(string: text),
              components.scheme == "postgres" || components.scheme == "postgresql" else {
            throw PostgresURLError("expected postgres://user[:password]@host[:port]/database")
        }
        guard let host = components.host, !host.isEmpty else { throw PostgresURLError("the URL names no host") }
        guard let username = components.user, !username.isEmpty else { throw PostgresURLError("the URL names no user") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw PostgresURLError("the URL names no database") }
        self.host = host
        self.port = components.port ?? 5432
        self.username = username.removingPercentEncoding ?? username
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.removingPercentEncoding ?? database
        self.sslMode = .prefer
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode" else { throw PostgresURLError("unknown URL parameter \(item.name)") }
            guard let mode = item.value.flatMap(SSLMode.init(rawValue:)) else {
                throw PostgresURLError("sslmode is disable, prefer or require")
            }
            sslMode = mode
        }
    }

    /// The URL without its password, for logs and errors.
    public var description: String {
        "postgres://\(username)@\(host):\(port)/\(database)?sslmode=\(sslMode.rawValue)"
    }

    func tls() throws -> PostgresConnection.Configuration.TLS {
        switch sslMode {
        case .disable: .disable
        case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
    }

    func connectionConfiguration(connectTimeout: TimeInterval) throws -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: username,
                                                             password: password, database: database, tls: try tls())
        configuration.options.connectTimeout = .milliseconds(Int64(connectTimeout * 1000))
        return configuration
    }

    func clientConfiguration(connectTimeout: TimeInterval, maxConnections: Int) throws -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS = switch sslMode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(host: host, port: port, username: username,
                                                         password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .milliseconds(Int64(connectTimeout * 1000))
        configuration.options.maximumConnections = maxConnections
        return configuration
    }
}

/// A `--postgres` URL that cannot be used.
public struct PostgresURLError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, in one line.
    public var description: String
    init(_ description: String) { self.description = "bad PostgreSQL URL: " + description }
}
