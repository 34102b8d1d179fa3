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
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        // A directory of its own, so ./rules and ./onced.db are never the repository's.
        process.currentDirectoryURL = directory ?? FileManager.default.temporaryDirectory
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let writer = Thread {
            stdin.fileHandleForWriting.write(input)
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let errors = ThreadBox { stderr.fileHandleForReading.readDataToEndOfFile() }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
                   stderr: String(decoding: errors.value, as: UTF8.self))
    }
}

/// Runs a blocking closure on its own thread; `value` waits for it.
final class ThreadBox<T>: @unchecked Sendable {
    private var result: T?
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () -> T) {
        Thread { [self] in
            result = body()
            done.signal()
        }.start()
    }

    var value: T {
        done.wait()
        done.signal()
        return result!
    }
}

/// A long-running `onced` whose stdin we feed and whose stdout we read line by line.
final class OncedProcess: @unchecked Sendable {
    let process = Process()
    private let stdin = Pipe()
    private let stdout = Pipe()
    private var buffer = Data()

    init(_ arguments: [String]) throws {
        signal(SIGPIPE, SIG_IGN)  // writing to a child we killed must fail, not kill the tests
        process.executableURL = OncedBinary.url
        process.arguments = arguments
        process.currentDirectoryURL = FileManager.default.temporaryDirectory
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Throws once the child has gone away.
    func write(_ line: String) throws {
        try stdin.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    func closeInput() {
        try? stdin.fileHandleForWriting.close()
    }

    /// The next line of output, or nil at end of output (off the cooperative pool).
    func nextLine() async throws -> String? {
        try await offload { self.readLine() }
    }

    private func readLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                return line
            }
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }

    func kill() async throws {
        Foundation.kill(process.processIdentifier, SIGKILL)
        try await offload { self.process.waitUntilExit() }
    }

    func wait() async throws -> Int32 {
        try await offload { self.process.waitUntilExit() }
        return process.terminationStatus
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
