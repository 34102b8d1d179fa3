import Foundation

/// SPEC §10's `rules diff`: what two rule sets would each do to the same write,
/// and where they differ. Each side is a ``Rehearsal`` against the registered
/// types alone (no profiles: `set_once` shows what it would store on a profile
/// that lacks the property).
public struct RuleDiff: Sendable {
    public let old: RuleRuntime
    public let new: RuleRuntime

    public init(old: RuleRuntime, new: RuleRuntime) {
        self.old = old
        self.new = new
    }

    /// What one rule set would do to one property.
    public typealias PropertyOutcome = Rehearsal.PropertyOutcome

    /// What a difference amounts to, for the summary.
    public enum Kind: String, Sendable, CaseIterable {
        case newlyRejected = "newly rejected"
        case noLongerRejected = "no longer rejected"
        case renamed
        case added
        case typeOutcomeChanged = "type outcome changed"
        case valueChanged = "values changed"
        /// Any other change of outcome (both sides store, or both ignore, differently).
        case outcomeChanged = "outcome changed"
        /// The same outcome and value, for another rule or reason (a different rejection, say).
        case reasonChanged = "reason changed"
    }

    /// One property whose outcome differs; nil on the side that does not have it
    /// (a rename, a rule-added property).
    public struct Difference: Sendable, Equatable {
        public var distinctID: String
        public var op: Op
        public var property: String
        public var old: PropertyOutcome?
        public var new: PropertyOutcome?

        public var kind: Kind {
            let rejected = { (side: PropertyOutcome?) in side?.outcome == .rejectedByRule }
            let ignored = { (side: PropertyOutcome?) in side?.outcome == .ignoredTypeMismatch || side?.outcome == .ignoredInvalid }
            if rejected(new) && !rejected(old) { return .newlyRejected }
            if rejected(old) && !rejected(new) { return .noLongerRejected }
            // On one side only: a rule added it, or a rename moved it to or from this name.
            if old == nil || new == nil { return (old ?? new)?.outcome == .addedByRule ? .added : .renamed }
            if ignored(old) != ignored(new) { return .typeOutcomeChanged }
            if old?.value != new?.value { return .valueChanged }
            if [old, new].contains(where: { $0?.reason?.hasPrefix("renamed from") == true }) { return .renamed }
            return old?.outcome != new?.outcome ? .outcomeChanged : .reasonChanged
        }

        /// `{"distinct_id", "op", "property", "old", "new"}`.
        public var json: JSON {
            .object(JSONObject([
                .init("distinct_id", .string(distinctID)),
                .init("op", .string(op.rawValue)),
                .init("property", .string(property)),
                .init("old", old?.json ?? .null),
                .init("new", new?.json ?? .null),
            ]))
        }
    }

    /// Where the two rule sets' outcomes for `request` differ, in op order;
    /// `types`: the namespace's registered types.
    public func differences(in request: WriteRequest, types: [String: PropertyType]) -> [Difference] {
        let before = Self.outcomes(of: request, under: old, types: types)
        let after = Self.outcomes(of: request, under: new, types: types)
        return Self.differences(in: request, before: before, after: after)
    }

    /// The same, when the old set's output is at hand: `old` is what it made of
    /// `request` (a write's prepared request), so only `new` runs. When it
    /// prepares the very same request, outcomes cannot differ and neither side
    /// is rehearsed: a comparison then costs the new chain and little more.
    public static func differences(in request: WriteRequest, old prepared: PreparedRequest, new: RuleRuntime,
                                   types: [String: PropertyType]) -> [Difference] {
        let after: [[(name: String, outcome: PropertyOutcome)]]
        do {
            let candidate = try Engine.prepare(request, under: new.current, types: types)
            if candidate.elements == prepared.elements { return [] }
            after = try Rehearsal.run(prepared: candidate, types: types).map(\.properties)
        } catch {
            after = rejected(request, by: error)
        }
        let before = (try? Rehearsal.run(prepared: prepared, types: types).map(\.properties)) ?? []
        return differences(in: request, before: before, after: after)
    }

    private static func differences(in request: WriteRequest, before: [[(name: String, outcome: PropertyOutcome)]],
                                    after: [[(name: String, outcome: PropertyOutcome)]]) -> [Difference] {
        var differences: [Difference] = []
        for (index, (target, op)) in request.targets.enumerated() where before.indices.contains(index) && after.indices.contains(index) {
            let old = Dictionary(before[index].map { ($0.name, $0.outcome) }) { first, _ in first }
            let new = Dictionary(after[index].map { ($0.name, $0.outcome) }) { first, _ in first }
            // In the order sent, then names only the new rules produce.
            let names = before[index].map(\.name) + after[index].map(\.name).filter { old[$0] == nil }
            for name in names {
                let was = old[name], will = new[name]
                if was != will {
                    differences.append(Difference(distinctID: target, op: op, property: name, old: was, new: will))
                }
            }
        }
        return differences
    }

    /// Each (element, op)'s property outcomes under `rules`, in the request's op order.
    private static func outcomes(of request: WriteRequest, under rules: RuleRuntime,
                                 types: [String: PropertyType]) -> [[(name: String, outcome: PropertyOutcome)]] {
        do {
            return try Rehearsal.run(request, rules: rules, types: types).map(\.properties)
        } catch {
            return rejected(request, by: error)
        }
    }

    /// A request rejected whole writes none of its properties: each is `rejected_by_rule` with the rule's reason.
    private static func rejected(_ request: WriteRequest, by error: any Error) -> [[(name: String, outcome: PropertyOutcome)]] {
        let (rule, reason) = (error as? RuleRejection).map { ($0.rule, $0.reason) } ?? (nil, "\(error)")
        return request.elements.flatMap { element in
            element.ops.map { op in
                op.properties.members.map { ($0.key, PropertyOutcome(outcome: .rejectedByRule, rule: rule, reason: reason)) }
            }
        }
    }
}
