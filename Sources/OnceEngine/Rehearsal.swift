import Foundation

/// A write run in full — rules, validation, the op semantics — on a namespace of
/// its own in memory that holds what the write needs to see (the registered
/// types, and for a preview the profiles it names), so its outcomes are exactly
/// a real write's and nothing is written anywhere. `rules diff` and `rules/preview` (SPEC §10).
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
                           profiles: [Profile] = []) throws -> [OpOutcome] {
        try run(prepared: try Engine.prepare(request, under: rules?.current, types: types), types: types, profiles: profiles)
    }

    /// Runs a request that has been through the rules already (the live chain's
    /// output, kept by the shadow rules): the op semantics only.
    public static func run(prepared: PreparedRequest, types: [String: PropertyType], profiles: [Profile] = []) throws -> [OpOutcome] {
        // The memory store's own steps on a namespace of their own, in place: no lock, no task.
        var transaction = MemoryTransaction(space: MemoryStore.Space(types: types, profiles: profiles),
                                            now: prepared.receivedAt.epochMilliseconds, keepsRecords: false)
        let record = try RequestApplier.apply(prepared, in: &transaction)
        // A write's own record names each element's profile (only an erasure since could hide it).
        let targets = prepared.elements.flatMap { element in element.ops.map { _ in element.distinctID } }
        return zip(record.results, targets).map { result, distinctID in
            let after = transaction.space.profiles[distinctID]?.properties
            return OpOutcome(distinctID: distinctID, op: result.op, properties: result.properties.map { property in
                let holds = [.set, .unchanged, .addedByRule].contains(property.outcome)
                return (property.name, PropertyOutcome(outcome: property.outcome, value: holds ? after?[property.name] : nil,
                                                       rule: property.rule, reason: property.reason))
            })
        }
    }
}
