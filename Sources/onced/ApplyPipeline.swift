import Dispatch
import Foundation
import OnceEngine
import Synchronization

/// The streaming core of `onced apply`.
///
/// A reader thread splits stdin into lines and hands them on in chunks; each
/// chunk becomes a task (decode, rules, validation, submit) so up to `window`
/// lines run at once and share commits; a writer awaits the chunks in input
/// order and prints each line's outcome. A semaphore of `window` lines' worth
/// of chunks, taken per chunk read and returned per chunk written, bounds
/// memory whatever the input's length.
///
/// Why chunks: a task, a stream hand-off and a semaphore round per *line* cost
/// more than a line's rules. A chunk ends at ``chunkLines`` lines or whenever
/// the reader is about to wait for input, so output never waits on input that
/// has not come.
struct ApplyPipeline {
    let engine: Engine
    /// Each line runs on an empty store of its own: a pure transform.
    let dryRun: Bool
    let window: Int
    let strict: Bool
    let maxLineBytes: Int
    let limits: RequestLimits

    static let chunkLines = 64

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
        let permits = DispatchSemaphore(value: max(1, window / Self.chunkLines))
        let chunks = readChunks(permits: permits)
        let (outcomes, queue) = AsyncStream.makeStream(of: Task<[LineOutcome], Never>.self)
        let stop = Atomic<Bool>(false)
        let queued = Atomic<Int>(0)
        let strict = self.strict

        let writer = Task { () -> Summary in
            let output = OutputBuffer(fd: 1)
            let progress = ProgressLine(started: started)
            var summary = Summary()
            for await task in outcomes {
                queued.subtract(1, ordering: .relaxed)
                for outcome in await task.value {
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
                    if strict && !outcome.isApplied { stop.store(true, ordering: .relaxed) }
                }
                permits.signal()
                if queued.load(ordering: .relaxed) == 0 { output.flush() }
                progress.report { rate in "\(summary.processed) lines, \(summary.failed) errors, \(rate(summary.processed)) lines/s" }
            }
            output.flush()
            progress.finish()
            return summary
        }

        for await chunk in chunks {
            if stop.load(ordering: .relaxed) { break }
            queued.add(1, ordering: .relaxed)
            guard strict else {
                queue.yield(Task { await process(decode(chunk)) })
                continue
            }
            // Decoded here, in input order: nothing after a malformed line is submitted.
            let items = decode(chunk)
            queue.yield(Task { await process(items) })
            if items.contains(where: \.isMalformed) { break }
        }
        queue.finish()
        var summary = await writer.value
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// A line of a chunk, decoded.
    private enum Item {
        case request(line: Int, WriteRequest)
        case malformed(LineOutcome)

        var isMalformed: Bool {
            if case .malformed = self { return true }
            return false
        }
    }

    /// The chunk's lines as requests, blank ones left out. Under `--strict` the
    /// first malformed line is the last item.
    private func decode(_ chunk: [LineReader.Line]) -> [Item] {
        var items: [Item] = []
        for line in chunk {
            switch line {
            case .tooLong(let number):
                items.append(.malformed(.rejected(errorLine(number, "line longer than \(maxLineBytes) bytes"))))
            case .text(let number, let bytes):
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                do {
                    items.append(.request(line: number, try JSONLine.request(from: bytes, limits: limits)))
                } catch {
                    items.append(.malformed(.rejected(errorLine(number, error.message))))
                }
            }
            if strict && items.last?.isMalformed == true { break }
        }
        return items
    }

    /// Each item's outcome, in order.
    private func process(_ items: [Item]) async -> [LineOutcome] {
        let requests = items.compactMap { item -> (line: Int, request: WriteRequest)? in
            if case .request(let line, let request) = item { return (line, request) }
            return nil
        }
        let results: [Result<RequestRecord, any Error>]
        if dryRun {
            var each: [Result<RequestRecord, any Error>] = []
            for (_, request) in requests {
                let engine = Engine(store: MemoryStore(keepsRecords: false), rules: self.engine.rules)
                do { each.append(.success(try await engine.submit(request))) } catch { each.append(.failure(error)) }
            }
            results = each
        } else {
            results = await engine.submit(contentsOf: requests.map(\.request))
        }
        var applied = zip(requests, results).makeIterator()
        return items.map { item in
            if case .malformed(let outcome) = item { return outcome }
            let ((line, _), result) = applied.next()!
            return Self.outcome(of: result, line: line)
        }
    }

    private static func outcome(of result: Result<RequestRecord, any Error>, line: Int) -> LineOutcome {
        switch result {
        case .success(let record):
            let json = JSON.object(JSONObject([
                .init("line", .integer(Int64(line))),
                .init("request_id", .string(record.id.lowercaseString)),
                .init("results", .array(record.results.map(\.json))),
            ]))
            return .applied(json.text)
        case .failure(let rejection as RuleRejection):
            return .rejected(errorLine(line, "\(rejection)", code: "rejected_by_rule",
                                       extra: [.init("rule", .string(rejection.rule)), .init("reason", .string(rejection.reason))]))
        case .failure(let error):
            return .storeFailed(errorLine(line, "not applied: \(error)", code: "store_error"))
        }
    }

    /// Chunks of stdin's lines, read on their own thread so a blocking read never
    /// holds a concurrency thread. A chunk is handed on when full, and before any
    /// read that may wait.
    private func readChunks(permits: DispatchSemaphore) -> AsyncStream<[LineReader.Line]> {
        let (stream, continuation) = AsyncStream.makeStream(of: [LineReader.Line].self)
        let maxLineBytes = self.maxLineBytes
        let thread = Thread {
            var reader = LineReader(fd: 0, maxLength: maxLineBytes)
            var chunk: [LineReader.Line] = []
            func handOn() {
                guard !chunk.isEmpty else { return }
                permits.wait()
                continuation.yield(chunk)
                chunk = []
            }
            while let line = reader.next(beforeReading: handOn) {
                chunk.append(line)
                if chunk.count == Self.chunkLines { handOn() }
            }
            handOn()
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
