import Foundation
import OnceEngine
@_exported import TestSupport

/// The real `onced` binary, built beside the test bundle.
enum OncedBinary {
    /// The repository's shipped rules.
    static let shippedRules = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../rules").standardized.path

    static let url: URL = {
        if let path = ProcessInfo.processInfo.environment["ONCED_BINARY"] { return URL(fileURLWithPath: path) }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("onced")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        fatalError("cannot find the onced binary near \(CommandLine.arguments[0]); set ONCED_BINARY")
    }()

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    /// Runs `onced` to completion with `input` on stdin (off the cooperative pool).
    static func run(_ arguments: [String], input: Data = Data(), directory: URL? = nil,
                    environment: [String: String] = [:]) async throws -> Run {
        try await offload { try runBlocking(arguments, input: input, directory: directory, environment: environment) }
    }

    private static func runBlocking(_ arguments: [String], input: Data, directory: URL?,
                                    environment: [String: String]) throws -> Run {
        let child = try ChildProcess(url.path, arguments,
                                     environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new },
                                     // A directory of its own, so ./rules and ./onced.db are never the repository's.
                                     directory: (directory ?? FileManager.default.temporaryDirectory).path,
                                     stdin: .pipe, stdout: .pipe, stderr: .pipe)
        let finished = try child.run(input: input)
        return Run(status: finished.status, stdout: String(decoding: finished.stdout, as: UTF8.self),
                   stderr: String(decoding: finished.stderr, as: UTF8.self))
    }
}

/// A long-running `onced` whose stdin we feed and whose stdout we read line by line.
final class OncedProcess: @unchecked Sendable {
    let child: ChildProcess
    private let lines: LineInput

    init(_ arguments: [String]) throws {
        child = try ChildProcess(OncedBinary.url.path, arguments, directory: FileManager.default.temporaryDirectory.path,
                                 stdin: .pipe, stdout: .pipe)
        lines = LineInput(child.output!)
    }

    /// Throws once the child has gone away.
    func write(_ line: String) throws {
        try child.input!.write(contentsOf: Data((line + "\n").utf8))
    }

    func closeInput() {
        try? child.input!.close()
    }

    /// The next line of output, or nil at end of output (off the cooperative pool).
    func nextLine(within timeout: Duration = .seconds(60)) async throws -> String? {
        try await offload { try self.lines.next(within: timeout) }
    }

    func kill() async throws {
        child.send(SIGKILL)
        try await child.exit(within: .seconds(30))
    }

    func wait() async throws -> Int32 {
        try await child.exit()
    }
}

/// A JSONL line for `onced apply`.
func applyLine(_ distinctID: String, _ ops: String, workspace: String = "FY12345678", version: String = "live") -> String {
    #"{"workspace": "\#(workspace)", "version": "\#(version)", "distinct_id": "\#(distinctID)", \#(ops)}"#
}

/// Parses one line of `onced apply` output.
func parseOutput(_ line: String) throws -> JSONObject {
    guard let object = try JSONParser.parse(line).objectValue else { throw DecodeError("output line is not an object: \(line)") }
    return object
}
