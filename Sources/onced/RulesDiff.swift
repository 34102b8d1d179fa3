import ArgumentParser
import Foundation
import OnceEngine

/// `onced rules diff OLD_DIR NEW_DIR` (SPEC §10): runs `apply`-style lines from
/// stdin through both rule sets and validation, writes nothing, and prints each
/// line whose outcomes differ, then a summary by kind on stderr.
struct RulesDiff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what a rule change would do: run JSONL writes from stdin through two rule directories, writing nothing.",
        discussion: """
            Each differing line is printed as {"line": N, "differences": [{"distinct_id", "op", "property", "old", "new"}]}, \
            each side {"outcome", "value"?, "rule"?, "reason"?} or null. Types come from --db or --postgres when one is \
            given (only read; the store is opened as serve would open it), else every property is new. Exit 1 when a \
            directory does not load or its tests fail (it could not go live).
            """
    )

    @Argument(help: "The rules in force.")
    var old: String

    @Argument(help: "The candidate rules.")
    var new: String

    @OptionGroup var store: StoreOptions
    @OptionGroup var limits: RuleLimitOptions
    @OptionGroup var requestLimits: RequestLimitOptions

    @Option(help: "Longest accepted line, in bytes.")
    var maxLineBytes = 1024 * 1024

    func validate() throws {
        guard maxLineBytes > 0 else { throw ValidationError("--max-line-bytes must be positive") }
    }

    func run() async throws {
        let diff = RuleDiff(old: try limits.runtime(directory: old), new: try limits.runtime(directory: new))
        let types = TypeSource(store: store.isGiven ? try await store.open() : nil)
        var reader = LineReader(fd: 0, maxLength: maxLineBytes)
        let output = OutputBuffer(fd: 1)
        var summary = Summary()
        var chunk: [(number: Int, request: WriteRequest)] = []
        // Lines are diffed a chunk at a time, concurrently, and printed in input order:
        // memory stays bounded by one chunk whatever the input's length.
        func diffChunk() async throws {
            let differences = try await withThrowingTaskGroup(of: (Int, [RuleDiff.Difference]).self) { group in
                for (position, line) in chunk.enumerated() {
                    group.addTask {
                        (position, diff.differences(in: line.request, types: try await types.types(in: line.request.namespace)))
                    }
                }
                var byPosition = [[RuleDiff.Difference]](repeating: [], count: chunk.count)
                for try await (position, differences) in group { byPosition[position] = differences }
                return byPosition
            }
            for (line, differences) in zip(chunk, differences) {
                summary.count(differences)
                guard !differences.isEmpty else { continue }
                output.writeLine(JSON.object(JSONObject([
                    .init("line", .integer(Int64(line.number))),
                    .init("differences", .array(differences.map(\.json))),
                ])).text)
            }
            chunk.removeAll(keepingCapacity: true)
        }
        while let line = reader.next(beforeReading: output.flush) {
            switch line {
            case .tooLong(let number):
                summary.malformed(number, "line longer than \(maxLineBytes) bytes")
            case .text(let number, let bytes):
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }  // as apply: blank lines are skipped
                do {
                    chunk.append((number, try JSONLine.request(from: bytes, limits: requestLimits.limits)))
                } catch {
                    summary.malformed(number, error.description)
                }
            }
            if chunk.count == Self.chunkLines { try await diffChunk() }
        }
        try await diffChunk()
        output.flush()
        try await types.close()
        printError(summary.text)
    }

    static let chunkLines = 64

    /// Lines read and how their differences add up, for stderr.
    private struct Summary {
        var lines = 0
        var differing = 0
        var malformedLines = 0
        var kinds: [RuleDiff.Kind: Int] = [:]

        mutating func count(_ differences: [RuleDiff.Difference]) {
            lines += 1
            if !differences.isEmpty { differing += 1 }
            for difference in differences { kinds[difference.kind, default: 0] += 1 }
        }

        /// A line that is no write: said on stderr, counted, and the run goes on.
        mutating func malformed(_ number: Int, _ problem: String) {
            lines += 1
            malformedLines += 1
            printError("onced rules diff: line \(number): \(problem)")
        }

        var text: String {
            let counts = RuleDiff.Kind.allCases.compactMap { kind in kinds[kind].map { "\(kind.rawValue): \($0)" } }
            var text = "onced rules diff: \(lines) lines, \(differing) differ"
            if malformedLines > 0 { text += ", \(malformedLines) malformed" }
            return counts.isEmpty ? text : text + " (" + counts.joined(separator: ", ") + ")"
        }
    }
}

/// The registered types `rules diff` runs against: read once per namespace from
/// the store, or none (every property new) without one.
private actor TypeSource {
    private let store: (any ProfileStore)?
    private var known: [Namespace: [String: PropertyType]] = [:]

    init(store: (any ProfileStore)?) {
        self.store = store
    }

    func types(in namespace: Namespace) async throws -> [String: PropertyType] {
        guard let store else { return [:] }
        if let types = known[namespace] { return types }
        let types = try await store.registeredTypes(in: namespace)
        known[namespace] = types
        return types
    }

    func close() async throws {
        try await store?.close()
    }
}
