import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import OnceEngine

/// A real `onced serve` on a free loopback port.
final class Daemon: @unchecked Sendable {
    let process: ChildProcess
    let port: Int
    let directory: TemporaryDirectory

    static let workspace = "FY12345678"
    static let key = "dev-key-FY12345678"
    static let otherWorkspace = "FY00000002"
    static let otherKey = "dev-key-FY00000002"

    /// Starts the daemon on a fresh data set of `kind` and waits until it listens.
    static func start(_ kind: TestDataSet.Kind, arguments: [String] = [],
                      directory: TemporaryDirectory = TemporaryDirectory()) async throws -> Daemon {
        let dataSet = try await TestDataSet.fresh(kind, in: directory)
        return try await start(arguments: arguments, directory: directory, store: dataSet.arguments)
    }

    /// Starts the daemon on `store` (store options; a fresh SQLite file by default) and waits until it listens.
    static func start(arguments: [String] = [], directory: TemporaryDirectory = TemporaryDirectory(),
                      store: [String]? = nil) async throws -> Daemon {
        try await offload { try Daemon(arguments: arguments, directory: directory, store: store) }
    }

    private init(arguments: [String], directory: TemporaryDirectory, store: [String]?) throws {
        self.directory = directory
        process = try ChildProcess(OncedBinary.url.path, ["serve", "--port", "0"] + (store ?? ["--db", directory.path("onced.db")]) + [
            "--api-key", "\(Self.workspace):\(Self.key)", "--api-key", "\(Self.otherWorkspace):\(Self.otherKey)"] + arguments,
                                   directory: directory.url.path, stdout: .pipe, stderr: .file(directory.path("onced.log")))
        let output = LineInput(process.output!)
        let marker = "onced listening on http://127.0.0.1:"
        while true {
            guard let line = try output.next(within: .seconds(60)) else { throw DecodeError("onced serve exited before listening") }
            if line.hasPrefix(marker), let port = Int(line.dropFirst(marker.count)) {
                self.port = port
                break
            }
        }
    }

    struct Reply {
        var status: Int
        var body: String
        var headers: [String: String] = [:]
        var json: JSONObject? { try? JSONParser.parse(body).objectValue }
        var errorCode: String? { json?["error"]?.objectValue?["code"]?.stringValue }
    }

    /// One HTTP request; `key` nil sends no Authorization header.
    func request(_ method: String, _ path: String, body: String? = nil, key: String? = Daemon.key,
                 headers: [String: String] = [:]) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        if let key { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        let headers = Dictionary(http.allHeaderFields.map { ("\($0.key)", "\($0.value)") }) { first, _ in first }
        return Reply(status: http.statusCode, body: String(decoding: data, as: UTF8.self), headers: headers)
    }

    /// A batch body setting once the same properties (a JSON object's text) on each of `profiles`.
    static func onceBatch(_ profiles: [String], _ properties: String) -> String {
        let elements = profiles.map { #"{"distinct_id": "\#($0)", "action": {"$once": \#(properties)}}"# }
        return #"{"batch": [\#(elements.joined(separator: ","))]}"#
    }

    func post(_ path: String, _ body: String, key: String? = Daemon.key) async throws -> Reply {
        try await request("POST", path, body: body, key: key)
    }

    func get(_ path: String, key: String? = Daemon.key) async throws -> Reply {
        try await request("GET", path, key: key)
    }

    /// The last `lines` lines the daemon logged, for a failing test's message.
    func logTail(_ lines: Int = 40) -> String {
        lastLines(of: directory.path("onced.log"), lines)
    }

    /// Sends SIGTERM and waits for the exit status.
    func terminate() async throws -> Int32 {
        process.send(SIGTERM)
        return try await process.exit(within: .seconds(60))
    }

    /// The most memory the process has held so far (VmHWM), in MiB.
    var peakResidentMiB: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) / 1024
    }

    /// Sends SIGKILL: no chance to drain or close anything.
    func kill() async throws {
        process.send(SIGKILL)
        try await process.exit(within: .seconds(30))
    }
}
