import Foundation

/// A request after rules and validation: exactly what the store must apply.
///
/// Values here are already typed; what the store still decides is everything
/// that depends on stored state — the namespace's registered type, whether the
/// profile already has the property — and it decides that atomically.
public struct PreparedRequest: Sendable {
    /// The request id.
    public var id: UUID
    /// The namespace every element belongs to.
    public var namespace: Namespace
    /// Stamped on profiles and the record.
    public var receivedAt: Date
    /// One per profile written.
    public var elements: [PreparedElement]
    /// A lifecycle action instead of elements (SPEC §9).
    public var lifecycle: LifecycleAction?

    /// Creates a value from its parts.
    public init(id: UUID, namespace: Namespace, receivedAt: Date, elements: [PreparedElement]) {
        self.id = id
        self.namespace = namespace
        self.receivedAt = receivedAt
        self.elements = elements
    }

    /// A request that carries out `action` and nothing else.
    public init(id: UUID = .timeOrdered(), namespace: Namespace, receivedAt: Date = Date(), lifecycle action: LifecycleAction) {
        self.init(id: id, namespace: namespace, receivedAt: receivedAt, elements: [])
        lifecycle = action
    }
}

/// One profile's share of a prepared request.
public struct PreparedElement: Sendable, Equatable {
    /// The profile.
    public var distinctID: String
    /// In op order.
    public var ops: [PreparedOp]

    /// Creates a value from its parts.
    public init(distinctID: String, ops: [PreparedOp]) {
        self.distinctID = distinctID
        self.ops = ops
    }

    /// Every write but `unset` creates the profile, even when all its values are ignored.
    package var createsProfile: Bool { ops.contains { $0.op != .unset } }
}

/// One op key's properties, each with its plan.
public struct PreparedOp: Sendable, Equatable {
    /// The op.
    public var op: Op
    /// In the order sent.
    public var properties: [PreparedProperty]

    /// Creates a value from its parts.
    public init(op: Op, properties: [PreparedProperty]) {
        self.op = op
        self.properties = properties
    }
}

/// One property and what the store must do with it.
public struct PreparedProperty: Sendable, Equatable {
    /// The name after the rules.
    public var name: String
    /// What to do.
    public var plan: Plan
    /// What a rule did to this property, carried into its outcome.
    public var provenance: Provenance?

    /// The store's part: write, edit a list, delete, or nothing (already settled).
    public enum Plan: Sendable, Equatable {
        /// `set_once` and `set` store it, `add` adds it (always a number).
        case value(PropertyValue)
        /// `append` or `remove` these list elements.
        case elements([PropertyValue])
        /// `unset`.
        case delete
        /// Settled before the store: invalid, or rejected by a rule.
        case settled(PropertyResult)
    }

    /// Creates a value from its parts.
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
