import Foundation

/// A request after rules and validation: exactly what the store must apply.
///
/// Values here are already typed; what the store still decides is everything
/// that depends on stored state — the namespace's registered type, whether the
/// profile already has the property — and it decides that atomically.
public struct PreparedRequest: Sendable {
    public var id: UUID
    public var namespace: Namespace
    public var receivedAt: Date
    public var elements: [PreparedElement]

    public init(id: UUID, namespace: Namespace, receivedAt: Date, elements: [PreparedElement]) {
        self.id = id
        self.namespace = namespace
        self.receivedAt = receivedAt
        self.elements = elements
    }
}

public struct PreparedElement: Sendable {
    public var distinctID: String
    public var ops: [PreparedOp]

    public init(distinctID: String, ops: [PreparedOp]) {
        self.distinctID = distinctID
        self.ops = ops
    }

    /// Every write but `unset` creates the profile, even when all its values are ignored.
    var createsProfile: Bool { ops.contains { $0.op != .unset } }
}

public struct PreparedOp: Sendable {
    public var op: Op
    public var properties: [PreparedProperty]

    public init(op: Op, properties: [PreparedProperty]) {
        self.op = op
        self.properties = properties
    }
}

public struct PreparedProperty: Sendable {
    public var name: String
    public var plan: Plan
    /// What a rule did to this property, carried into its outcome.
    public var provenance: Provenance?

    public enum Plan: Sendable {
        /// `set_once` and `set` store it, `add` adds it (always a number).
        case value(PropertyValue)
        /// `append` or `remove` these list elements.
        case elements([PropertyValue])
        /// `unset`.
        case delete
        /// Settled before the store: invalid, or rejected by a rule.
        case settled(PropertyResult)
    }

    public init(name: String, plan: Plan, provenance: Provenance? = nil) {
        self.name = name
        self.plan = plan
        self.provenance = provenance
    }

    /// The store's result with the rules' part in it: an added property that was
    /// stored is `added_by_rule`; an added or renamed one names its rule.
    func withProvenance(_ result: PropertyResult) -> PropertyResult {
        var result = result
        switch provenance {
        case nil:
            break
        case .added(let rule)?:
            result.rule = rule
            if result.outcome == .set { result.outcome = .addedByRule }
        case .renamed(let rule, let from)?:
            result.rule = rule
            if result.reason == nil { result.reason = "renamed from \(from)" }
        }
        return result
    }
}
