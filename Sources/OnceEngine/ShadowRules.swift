import Foundation
import Metrics
import Synchronization

/// SPEC §10's shadow rules: a candidate rule set compared with the live one on
/// every write, after the live outcome is decided and never on the path to the
/// acknowledgement.
///
/// ``offer(_:live:id:)`` hands a written request, with what the live rules made
/// of it, to a bounded queue and returns at once; when the queue is full the
/// comparison is skipped and counted, never the write delayed. ``run()`` works
/// the queue: each request is a ``RuleDiff`` between the live set's output and
/// the shadow set run on the request, against the namespace's types (so the
/// live rules never run twice), and each namespace keeps its counts and its
/// last differing requests.
public final class ShadowRules: Sendable {
    public let shadow: RuleRuntime
    private let engine: Engine
    private let examplesKept: Int
    private let queue: AsyncStream<Item>
    private let input: AsyncStream<Item>.Continuation
    private let state = Mutex(State())

    private struct Item: Sendable {
        var request: WriteRequest
        /// What the live rules and validation made of it.
        var live: PreparedRequest
        var id: UUID
    }

    /// One namespace's comparisons so far.
    public struct Report: Sendable {
        /// The shadow set's generation in force now.
        public var generation: Int
        /// Write requests compared, and of those, the ones whose outcomes differed.
        public var compared = 0
        public var differing = 0
        /// The last differing requests, oldest first.
        public var examples: [(requestID: UUID, differences: [RuleDiff.Difference])] = []

        mutating func add(_ differences: [RuleDiff.Difference], of requestID: UUID, keeping kept: Int) {
            compared += 1
            guard !differences.isEmpty else { return }
            differing += 1
            if examples.count >= kept { examples.removeFirst(examples.count - kept + 1) }
            examples.append((requestID, differences))
        }

        /// `{"generation", "compared", "differing", "examples": [{"request_id", "differences"}]}`.
        public var json: JSON {
            .object(JSONObject([
                .init("generation", .integer(Int64(generation))),
                .init("compared", .integer(Int64(compared))),
                .init("differing", .integer(Int64(differing))),
                .init("examples", .array(examples.reversed().map { example in
                    .object(JSONObject([
                        .init("request_id", .string(example.requestID.lowercaseString)),
                        .init("differences", .array(example.differences.map(\.json))),
                    ]))
                })),
            ]))
        }
    }

    private struct State {
        var reports: [Namespace: Report] = [:]
    }

    /// Namespaces with a report of their own; past that, comparisons still count in `/metrics`.
    static let maxNamespaces = 1024

    /// - Parameters:
    ///   - shadow: the candidate rules; the live ones are the engine's, and their output comes with each write.
    ///   - engine: the live engine, whose registered types the comparisons run against.
    ///   - queueCapacity: requests waiting for comparison at most; more are skipped.
    public init(shadow: RuleRuntime, engine: Engine, queueCapacity: Int = 1024, examplesKept: Int = 100) {
        self.shadow = shadow
        self.engine = engine
        self.examplesKept = examplesKept
        (queue, input) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingOldest(queueCapacity))
    }

    /// Queues `request` (written as `id`; `live`: what the live rules made of it) for comparison; never waits.
    public func offer(_ request: WriteRequest, live: PreparedRequest, id: UUID) {
        if case .dropped = input.yield(Item(request: request, live: live, id: id)) { Self.skipped.increment() }
    }

    /// Compares queued requests until ``finish()``.
    public func run() async {
        for await item in queue {
            let types = (try? await engine.typeSnapshot(in: item.request.namespace)) ?? [:]
            let differences = RuleDiff.differences(in: item.request, old: item.live, new: shadow, types: types)
            record(differences, of: item)
        }
    }

    /// Ends ``run()`` once the queue is worked off.
    public func finish() {
        input.finish()
    }

    /// The comparisons of `namespace` so far.
    public func report(for namespace: Namespace) -> Report {
        var report = state.withLock { $0.reports[namespace] } ?? Report(generation: 0)
        report.generation = shadow.generation
        return report
    }

    private func record(_ differences: [RuleDiff.Difference], of item: Item) {
        Self.compared.increment()
        if !differences.isEmpty { Self.differing.increment() }
        state.withLock { state in
            let namespace = item.request.namespace
            guard state.reports[namespace] != nil || state.reports.count < Self.maxNamespaces else { return }
            // In place: a copy out of the dictionary and back copied the examples every time.
            state.reports[namespace, default: Report(generation: 0)].add(differences, of: item.id, keeping: examplesKept)
        }
    }

    static let compared = Counter(label: "onced_shadow_compared_total")
    static let differing = Counter(label: "onced_shadow_differing_total")
    static let skipped = Counter(label: "onced_shadow_skipped_total")

    /// Creates the shadow metrics now, so a scrape lists them (at zero) before they first move.
    public static func registerMetrics() {
        _ = (compared, differing, skipped)
    }
}
