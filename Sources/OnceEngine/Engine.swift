import Foundation

/// The set-once engine: decode → rules → validate → store → outcome.
///
/// Safe to call from many tasks at once. Rules and validation run in the
/// caller's task, so they spread over cores; the store then commits
/// concurrent submissions together (group commit) and each returns once durable.
public final class Engine: Sendable {
    /// Where profiles, types and request records live.
    public let store: any ProfileStore
    /// Nil: no rules run.
    public let rules: RuleRuntime?
    private let types = TypeSnapshots()

    /// An engine over `store`, running `rules` (none when nil) before every write.
    public init(store: any ProfileStore, rules: RuleRuntime? = nil) {
        self.store = store
        self.rules = rules
    }

    /// Opens an engine over the SQLite file at `path`.
    public convenience init(sqlitePath path: String, options: SQLiteStore.Options = .init(), rules: RuleRuntime? = nil) throws {
        self.init(store: try SQLiteStore(path: path, options: options), rules: rules)
    }

    /// Applies a request atomically and returns its record once it is durable.
    ///
    /// - Throws: ``RuleRejection`` when a rule rejects the whole request (nothing
    ///   is written), or the store's error (nothing of the request is written).
    public func submit(_ request: WriteRequest) async throws -> RequestRecord {
        try await submit(prepared: try await prepare(request))
    }

    /// Applies a request that ``prepare(_:)`` made, as ``submit(_:)`` does: for
    /// a caller that keeps what the rules made of it (the shadow rules compare with it).
    public func submit(prepared request: PreparedRequest) async throws -> RequestRecord {
        let record = try await store.apply(request)
        learn(from: record, in: request.namespace)
        return record
    }

    /// ``submit(prepared:)`` for a caller that is not a task: `done` gets the
    /// record once durable, or the error, on whichever thread finished the commit.
    public func submit(prepared request: PreparedRequest, then done: @escaping @Sendable (Result<RequestRecord, any Error>) -> Void) {
        store.apply(request) { result in
            if case .success(let record) = result { self.learn(from: record, in: request.namespace) }
            done(result)
        }
    }

    /// Applies each request as ``submit(_:)`` does, handing them to the store
    /// together: a caller with many requests at hand (a pipeline) needs no task
    /// per request for them to share commits.
    ///
    /// - Returns: One result per request, in order: its record, or why nothing of it was written.
    public func submit(contentsOf requests: [WriteRequest]) async -> [Result<RequestRecord, any Error>] {
        var results = [Result<RequestRecord, any Error>?](repeating: nil, count: requests.count)
        var prepared: [(index: Int, request: PreparedRequest)] = []
        for (index, request) in requests.enumerated() {
            do {
                prepared.append((index, try await prepare(request)))
            } catch {
                results[index] = .failure(error)
            }
        }
        let stored = await store.apply(contentsOf: prepared.map(\.request))
        for ((index, request), result) in zip(prepared, stored) {
            if case .success(let record) = result { learn(from: record, in: request.namespace) }
            results[index] = result
        }
        return results.map { $0! }
    }

    /// Rules, then validation: what the store must apply.
    /// - Throws: ``RuleRejection`` when a rule rejects the whole request.
    public func prepare(_ request: WriteRequest) async throws -> PreparedRequest {
        let ruleSet = rules?.current  // one generation for the whole request
        let known = ruleSet?.usesTypes == true ? try await types.types(in: request.namespace, store: store) : [:]
        return try Self.prepare(request, under: ruleSet, types: known)
    }

    /// ``prepare(_:)`` without waiting, for a caller that must not (an event loop):
    /// nil when the rules ask for the namespace's types and they must be read first.
    /// - Throws: ``RuleRejection`` when a rule rejects the whole request.
    public func prepareNow(_ request: WriteRequest) throws -> PreparedRequest? {
        let ruleSet = rules?.current
        var known: [String: PropertyType] = [:]
        if ruleSet?.usesTypes == true {
            guard let fresh = types.freshTypes(in: request.namespace) else { return nil }
            known = fresh
        }
        return try Self.prepare(request, under: ruleSet, types: known)
    }

    /// Rules (none when nil) against `types` for `ctx.type_of`, then validation.
    public static func prepare(_ request: WriteRequest, under ruleSet: RuleSet?, types: [String: PropertyType]) throws -> PreparedRequest {
        let ruled = if let ruleSet, !ruleSet.rules.isEmpty {
            try ruleSet.apply(to: request, types: types)
        } else {
            request.elements.map { element in element.ops.map { $0.properties.members.map(RuledProperty.init(decoded:)) } }
        }
        return PreparedRequest(id: request.id, namespace: request.namespace, receivedAt: request.receivedAt,
                               elements: zip(request.elements, ruled).map { element, ops in
                                   Preparation.prepare(distinctID: element.distinctID,
                                                       ops: zip(element.ops, ops).map { ($0.op, $1) })
                               })
    }

    private func learn(from record: RequestRecord, in namespace: Namespace) {
        EngineMetrics.count(record)
        if rules != nil { types.learn(from: record, in: namespace) }
    }

    /// What `request` would do now — against the namespace's current profiles and
    /// types, with the rules in force — each outcome with the value it would leave;
    /// nothing is written, and no write waits for it (SPEC §10's `rules/preview`).
    /// - Throws: ``RuleRejection`` when a rule would reject the request whole.
    public func preview(_ request: WriteRequest) async throws -> [Rehearsal.OpOutcome] {
        let types = try await store.registeredTypes(in: request.namespace)
        var profiles: [Profile] = []
        for distinctID in Set(request.elements.map(\.distinctID)) {
            if let profile = try await store.profile(distinctID, in: request.namespace) { profiles.append(profile) }
        }
        return try Rehearsal.run(request, rules: rules, types: types, profiles: profiles)
    }

    /// The namespace's types as `ctx.type_of` sees them: a snapshot at most a second old,
    /// read from the store once for all callers (the shadow rules ask on every write).
    public func typeSnapshot(in namespace: Namespace) async throws -> [String: PropertyType] {
        try await types.types(in: namespace, store: store)
    }

    /// The profile as stored, or nil if no write ever named it.
    public func profile(_ distinctID: String, in namespace: Namespace) async throws -> Profile? {
        try await store.profile(distinctID, in: namespace)
    }

    /// The outcomes of a processed request, or nil if the namespace has no such request.
    public func record(_ requestID: UUID, in namespace: Namespace) async throws -> RequestRecord? {
        try await store.record(requestID, in: namespace)
    }

    /// Erases the profile and all its properties, and its distinct_id from
    /// earlier records; returns the erasure's record once durable (SPEC §9).
    public func deleteProfile(_ distinctID: String, in namespace: Namespace) async throws -> RequestRecord {
        try await perform(.deleteProfile(distinctID), in: namespace)
    }

    /// Removes the property from every profile of the namespace and unregisters
    /// its type, so its next valid value registers a type anew; returns the
    /// drop's record once durable (SPEC §9).
    public func dropProperty(_ name: String, in namespace: Namespace) async throws -> RequestRecord {
        try await perform(.dropProperty(name), in: namespace)
    }

    private func perform(_ action: LifecycleAction, in namespace: Namespace) async throws -> RequestRecord {
        let record = try await store.apply(PreparedRequest(namespace: namespace, lifecycle: action))
        EngineMetrics.count(record)
        return record
    }

    /// For each property of `profile` whose last change the store knows, the
    /// request that made it: SPEC §3's `?provenance=true`.
    public func lastChanges(of profile: Profile, in namespace: Namespace) async throws -> [(name: String, change: LastChange)] {
        try await LastChange.resolve(profile, records: { try await self.store.record($0, in: namespace) })
    }

    /// SPEC §8's `query`: the page of profiles a query body asks for, its
    /// filter checked against the namespace's types as they are now.
    public func query(_ body: JSON, in namespace: Namespace, timeout: Duration) async throws -> QueryPage {
        let started = ContinuousClock.now
        defer { EngineMetrics.recordQuery(.query, since: started) }
        return try await store.page(QueryBody(body), in: namespace, timeout: timeout)
    }

    /// SPEC §8's `count`: how many profiles of the namespace a count body's filter matches.
    public func count(_ body: JSON, in namespace: Namespace, timeout: Duration) async throws -> Int {
        let started = ContinuousClock.now
        defer { EngineMetrics.recordQuery(.count, since: started) }
        return try await store.count(QueryBody(body), in: namespace, timeout: timeout)
    }

    /// The namespace's property types, fixed by each property's first valid value.
    public func registeredTypes(in namespace: Namespace) async throws -> [String: PropertyType] {
        try await store.registeredTypes(in: namespace)
    }

    /// Creates the engine's metrics in the `MetricsSystem` bootstrapped now, so they
    /// are listed (at zero) before they first change. Call once, after bootstrapping.
    public static func registerMetrics() {
        EngineMetrics.register()
    }

    /// Finishes writes in flight and closes the store.
    public func close() async throws {
        try await store.close()
    }
}
