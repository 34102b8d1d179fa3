import Metrics

/// What the engine reports through swift-metrics. The library only emits;
/// whoever embeds it picks the backend (the daemon bootstraps Prometheus).
package enum EngineMetrics {
    static let outcomes: [Outcome: Counter] = Dictionary(uniqueKeysWithValues: Outcome.allCases.map {
        ($0, Counter(label: "onced_outcomes_total", dimensions: [("outcome", $0.rawValue)]))
    })
    static let ruleFailures = Counter(label: "onced_rule_failures_total")
    static let ruleBudgetAborts = Counter(label: "onced_rule_budget_aborts_total")
    static let ruleReloads = Counter(label: "onced_rule_reloads_total", dimensions: [("result", "ok")])
    static let ruleReloadFailures = Counter(label: "onced_rule_reloads_total", dimensions: [("result", "failed")])
    package static let commitBatchSize = Recorder(label: "onced_commit_batch_size")
    /// Reads of a namespace's registered types for `ctx.type_of`: at most one at a time per namespace.
    static let typeSnapshotLoads = Counter(label: "onced_type_snapshot_loads_total")
    /// How long cohort queries and counts take (SPEC §8), bad ones and timeouts included.
    enum QueryKind: String, CaseIterable { case query, count }
    static let queryTimers: [QueryKind: Timer] = Dictionary(uniqueKeysWithValues: QueryKind.allCases.map {
        ($0, Timer(label: "onced_query_duration_seconds", dimensions: [("kind", $0.rawValue)], preferredDisplayUnit: .seconds))
    })
    static func recordQuery(_ kind: QueryKind, since started: ContinuousClock.Instant) {
        queryTimers[kind]?.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
    }

    /// Creates every metric now, so a scrape lists them all (at zero) before they first move.
    static func register() {
        _ = (outcomes, ruleFailures, ruleBudgetAborts, ruleReloads, ruleReloadFailures, commitBatchSize, typeSnapshotLoads, queryTimers)
    }

    static func count(_ record: RequestRecord) {
        for result in record.propertyResults { outcomes[result.outcome]?.increment() }
    }
}
