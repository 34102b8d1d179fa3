import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server of a test's own, for tests that stop or restart it:
/// a new cluster in a temporary directory on a free loopback port, removed
/// when the value is dropped. (As root the server runs as `postgres`.)
public final class PostgresCluster: Sendable {
    public let port: Int
    private let directory: String
    private let binaries: String

    public init() throws {
        binaries = try Self.findBinaries()
        directory = NSTemporaryDirectory() + "onced-pg-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 {
            try FileManager.default.setAttributes([.ownerAccountName: "postgres"], ofItemAtPath: directory)
        }
        port = try Self.freePort()
        try run("initdb", "-D", "\(directory)/data", "-U", "onced", "--auth=trust", "-E", "UTF8", "--locale=C")
        try start()
    }

    /// The cluster's maintenance database.
    public var url: String { "postgres://onced@127.0.0.1:\(port)/postgres?sslmode=disable" }

    /// The last `lines` lines of the server's log, for a failing test's message.
    public func logTail(_ lines: Int = 40) -> String {
        lastLines(of: "\(directory)/server.log", lines)
    }

    public func start() throws {
        try run("pg_ctl", "-D", "\(directory)/data", "-l", "\(directory)/server.log", "-w", "-t", "120", "start",
                "-o", "-c listen_addresses=127.0.0.1 -c port=\(port) -c unix_socket_directories=\(directory)")
    }

    /// An immediate shutdown — a crash, as far as clients and durability go: connections
    /// are cut, in-flight transactions are lost, only what was committed (fsynced to the
    /// WAL) comes back — then a start, which recovers. (A fast shutdown's checkpoint was
    /// seen to outlast `pg_ctl`'s wait on a busy CI machine.)
    public func restart() throws {
        try run("pg_ctl", "-D", "\(directory)/data", "-m", "immediate", "-w", "-t", "60", "stop")
        try start()
    }

    /// Sends `signal` to the server and to each of its backends. `SIGSTOP`
    /// makes a server that keeps every connection open and answers nothing
    /// (the postmaster first, so it forks no backend meanwhile); `SIGCONT` resumes it.
    public func signal(_ signal: Int32) throws {
        let pid = try postmasterPID()
        kill(pid, signal)
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let child = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let end = stat.lastIndex(of: ")") else { continue }
            // After the command's closing parenthesis: state, then the parent's pid.
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            if fields.count > 1, Int32(fields[1]) == pid { kill(child, signal) }
        }
    }

    /// The postmaster's pid, the first line of its pid file.
    private func postmasterPID() throws -> pid_t {
        let text = try String(contentsOfFile: "\(directory)/data/postmaster.pid", encoding: .utf8)
        guard let line = text.split(separator: "\n").first, let pid = pid_t(line) else {
            throw TestSetupError("no pid in \(directory)/data/postmaster.pid")
        }
        return pid
    }

    deinit {
        try? run("pg_ctl", "-D", "\(directory)/data", "-m", "immediate", "-w", "stop")
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs a PostgreSQL tool to completion. (The server it may start inherits
    /// nothing of the test process: see ``ChildProcess``.)
    private func run(_ tool: String, _ arguments: String...) throws {
        let command = getuid() == 0
            ? ["/usr/sbin/runuser", "-u", "postgres", "--", "\(binaries)/\(tool)"] + arguments
            : ["\(binaries)/\(tool)"] + arguments
        let status = try ChildProcess(command[0], Array(command.dropFirst())).waitForExit(timeout: .seconds(180))
        guard status == 0 else {
            throw TestSetupError("\(tool) \(arguments.joined(separator: " ")) failed (exit status \(status))")
        }
    }

    private static func findBinaries() throws -> String {
        if let given = ProcessInfo.processInfo.environment["ONCED_TEST_PG_BINDIR"] { return given }
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        guard let newest = versions.compactMap(Int.init).max() else {
            throw TestSetupError("no PostgreSQL server under \(root): apt-get install postgresql")
        }
        return "\(root)/\(newest)/bin"
    }

    private static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else { throw TestSetupError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
