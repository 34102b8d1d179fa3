import Foundation

/// A fresh temporary directory, removed when the value is dropped.
public final class TemporaryDirectory: Sendable {
    public let url: URL

    public init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("onced-tests-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Runs blocking work (waiting for a child process, reading its pipes) on a
/// thread of its own. Swift Testing runs tests on the cooperative pool, which
/// has one thread per core: a test blocking one of them stalls every other
/// test in the process.
public func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// The last `lines` lines of the text file at `path` (a process's log, for a
/// failing test's message); empty when there is none.
public func lastLines(of path: String, _ lines: Int = 40) -> String {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
}
