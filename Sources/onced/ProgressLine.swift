import Foundation

/// A progress line on stderr, redrawn at most twice a second, only when
/// stderr is a terminal (a pipe or a log file gets none).
final class ProgressLine {
    let started: Date
    let enabled = isatty(2) == 1
    private var lastReport = Date.distantPast

    init(started: Date = Date()) {
        self.started = started
    }

    /// Redraws the line if it is time; `text` gets a function from a count to its rate per second.
    func report(_ text: ((Int) -> Int) -> String) {
        guard enabled else { return }
        let now = Date()
        guard now.timeIntervalSince(lastReport) >= 0.5 else { return }
        lastReport = now
        let elapsed = max(now.timeIntervalSince(started), 0.001)
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text { Int(Double($0) / elapsed) })".utf8))
    }

    /// Clears the line.
    func finish() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
