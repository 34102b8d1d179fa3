import Foundation

/// A write run in full — rules, validation, the op semantics — on a store of its
/// own in memory that holds what the write needs to see (the registered types,
/// and for a preview the profiles it names), so its outcomes are exactly a real
/// write's and nothing is written anywhere. `rules diff` and `rules/preview` (SPEC §10).
public enum Rehearsal {
    /// One property's outcome, and the value it would hold afterwards.
    public struct PropertyOutcome: Sendable, Equatable {
        public var outcome: Outcome
        /// Where the property would hold a value after the write (set, unchanged, added by a rule).
        public var value: PropertyValue?
        public var rule: String?
        public var reason: String?

        /// `{"outcome", "value"?, "rule"?, "reason"?}`.
        public var json: JSON {
            var members = [JSONObject.Member("outcome", .string(outcome.rawValue))]
            if let value { members.append(.init("value", value.json)) }
            if let rule { members.append(.init("rule", .string(rule))) }
            if let reason { members.append(.init("reason", .string(reason))) }
            return .object(JSONObject(members))
        }
    }

    /// One (element, op) of the write: a request record entry, with values.
    public struct OpOutcome: Sendable {
        public var distinctID: String
        public var op: Op
        public var properties: [(name: String, outcome: PropertyOutcome)]

        /// `{"distinct_id", "op", "properties": {name: OUTCOME}}`: a record entry, each outcome with its value.
        public var json: JSON {
            .object(JSONObject([
                .init("distinct_id", .string(distinctID)),
                .init("op", .string(op.rawValue)),
                .init("properties", .object(JSONObject(properties.map { .init($0.name, $0.outcome.json) }))),
            ]))
        }
    }

    /// Runs `request` under `rules` against `types` and `profiles`.
    /// - Throws: ``RuleRejection`` when a rule rejects the whole request.
    public static func run(_ request: WriteRequest, rules: RuleRuntime?, types: [String: PropertyType],
                           profiles: [Profile] = []) async throws -> [OpOutcome] {
        let store = MemoryStore(rehearsing: request.namespace, types: types, profiles: profiles)
        let engine = Engine(store: store, rules: rules)
        let record = try await engine.submit(request)
        var outcomes: [OpOutcome] = []
        // A write's own record names each element's profile (only an erasure since could hide it).
        for (result, distinctID) in zip(record.results, request.targets.map(\.distinctID)) {
            let after = try await store.profile(distinctID, in: request.namespace)
            outcomes.append(OpOutcome(distinctID: distinctID, op: result.op, properties: result.properties.map { property in
                let holds = [.set, .unchanged, .addedByRule].contains(property.outcome)
                return (property.name, PropertyOutcome(outcome: property.outcome, value: holds ? after?[property.name] : nil,
                                                       rule: property.rule, reason: property.reason))
            }))
        }
        return outcomes
    }
}
