import Dispatch
import Foundation
import OnceEngine
import Synchronization

/// The streaming core of `onced apply`.
///
/// A reader thread splits stdin into lines; each line becomes a task (decode,
/// rules, validation, submit) so up to `window` lines run at once and share
/// commits; a writer awaits the tasks in input order and prints each outcome.
/// A semaphore of `window` permits, taken per line read and returned per line
/// written, bounds memory whatever the input's length.
struct ApplyPipeline {
    let engine: Engine
    /// Each line runs on an empty store of its own: a pure transform.
    let dryRun: Bool
    let window: Int
    let strict: Bool
    let maxLineBytes: Int

    struct Summary {
        var processed = 0
        var failed = 0
        var storeFailures = 0
        var seconds = 0.0

        var line: String {
            let rate = seconds > 0 ? Int(Double(processed) / seconds) : processed
            return "onced apply: \(processed) lines, \(processed - failed) applied, \(failed) failed "
                + "in \(String(format: "%.2f", seconds)) s (\(rate) lines/s, peak memory \(peakMemoryKiB()) KiB)"
        }
    }

    private enum LineOutcome: Sendable {
        case applied(String)
        case rejected(String)
        case storeFailed(String)

        var isApplied: Bool {
            if case .applied = self { return true }
            return false
        }
    }

    func run() async -> Summary {
        let started = Date()
        let permits = DispatchSemaphore(value: window)
        let lines = readLines(permits: permits)
        let (outcomes, queue) = AsyncStream.makeStream(of: Task<LineOutcome, Never>.self)
        let stop = Atomic<Bool>(false)
        let queued = Atomic<Int>(0)
        let strict = self.strict

        let writer = Task { () -> Summary in
            let output = OutputBuffer(fd: 1)
            let progress = Progress(started: started)
            var summary = Summary()
            for await task in outcomes {
                queued.subtract(1, ordering: .relaxed)
                let outcome = await task.value
                summary.processed += 1
                switch outcome {
                case .applied(let line): output.writeLine(line)
                case .rejected(let line):
                    summary.failed += 1
                    output.writeLine(line)
                case .storeFailed(let line):
                    summary.failed += 1
                    summary.storeFailures += 1
                    output.writeLine(line)
                }
                permits.signal()
                if strict && !outcome.isApplied { stop.store(true, ordering: .relaxed) }
                if queued.load(ordering: .relaxed) == 0 { output.flush() }
                progress.report(summary.processed, failed: summary.failed)
            }
            output.flush()
            progress.finish()
            return summary
        }

        reading: for await line in lines {
            if stop.load(ordering: .relaxed) { break }
            queued.add(1, ordering: .relaxed)
            switch line {
            case .tooLong(let number):
                let outcome = LineOutcome.rejected(errorLine(number, "line longer than \(maxLineBytes) bytes"))
                queue.yield(Task { outcome })
                if strict { break reading }
            case .text(let number, let bytes):
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                    queued.subtract(1, ordering: .relaxed)
                    permits.signal()
                    continue
                }
                let request: WriteRequest
                do {
                    request = try JSONLine.request(from: bytes)
                } catch {
                    queue.yield(Task { .rejected(errorLine(number, error.message)) })
                    if strict { break reading } else { continue }
                }
                let engine = dryRun ? Engine(store: MemoryStore(keepsRecords: false), rules: self.engine.rules) : self.engine
                queue.yield(Task { await Self.submit(request, line: number, engine: engine) })
            }
        }
        queue.finish()
        var summary = await writer.value
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    private static func submit(_ request: WriteRequest, line: Int, engine: Engine) async -> LineOutcome {
        do {
            let record = try await engine.submit(request)
            let json = JSON.object(JSONObject([
                .init("line", .integer(Int64(line))),
                .init("request_id", .string(record.id.uuidString.lowercased())),
                .init("results", .array(record.results.map(\.json))),
            ]))
            return .applied(json.text)
        } catch let rejection as RuleRejection {
            return .rejected(errorLine(line, "\(rejection)", code: "rejected_by_rule",
                                       extra: [.init("rule", .string(rejection.rule)), .init("reason", .string(rejection.reason))]))
        } catch {
            return .storeFailed(errorLine(line, "not applied: \(error)", code: "store_error"))
        }
    }

    /// Lines from stdin, read on their own thread so a blocking read never holds a concurrency thread.
    private func readLines(permits: DispatchSemaphore) -> AsyncStream<LineReader.Line> {
        let (stream, continuation) = AsyncStream.makeStream(of: LineReader.Line.self)
        let maxLineBytes = self.maxLineBytes
        let thread = Thread {
            var reader = LineReader(fd: 0, maxLength: maxLineBytes)
            while let line = reader.next() {
                permits.wait()
                continuation.yield(line)
            }
            continuation.finish()
        }
        thread.start()
        return stream
    }
}

/// The process's peak resident set size, in KiB.
///
/// Read from /proc (VmHWM) rather than getrusage: Linux carries `ru_maxrss` across
/// exec, so a child of a big process would report its parent's peak.
private func peakMemoryKiB() -> Int {
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
       let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
       let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") {
        return kib
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss
}

private func errorLine(_ line: Int, _ message: String, code: String = "bad_request", extra: [JSONObject.Member] = []) -> String {
    JSON.object(JSONObject([
        .init("line", .integer(Int64(line))),
        .init("error", .object(JSONObject([.init("code", .string(code)), .init("message", .string(message))] + extra))),
    ])).text
}

/// A progress line on stderr, only when stderr is a terminal.
private final class Progress {
    let started: Date
    let enabled = isatty(2) == 1
    var lastReport = Date.distantPast

    init(started: Date) {
        self.started = started
    }

    func report(_ processed: Int, failed: Int) {
        guard enabled else { return }
        let now = Date()
        guard now.timeIntervalSince(lastReport) >= 0.5 else { return }
        lastReport = now
        let rate = Int(Double(processed) / max(now.timeIntervalSince(started), 0.001))
        FileHandle.standardError.write(Data("\r\u{1B}[K\(processed) lines, \(failed) errors, \(rate) lines/s".utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
