import Foundation

/// What happened to one property of one op (SPEC §2).
public enum Outcome: String, Sendable, Hashable, CaseIterable {
    /// The stored value changed (also for add, append, remove).
    case set
    /// Nothing to do: set_once on a set property, append of a held value, remove of an absent one.
    case unchanged
    case ignoredTypeMismatch = "ignored_type_mismatch"
    case ignoredInvalid = "ignored_invalid"
    case rejectedByRule = "rejected_by_rule"
    /// A property a rule added to the request, stored as a `set` would be.
    case addedByRule = "added_by_rule"
    case unset

    /// Whether the profile's stored values changed, so its `updated_at` moves.
    var changesProfile: Bool {
        switch self {
        case .set, .addedByRule, .unset: true
        case .unchanged, .ignoredTypeMismatch, .ignoredInvalid, .rejectedByRule: false
        }
    }
}

/// One property's result, with the reason and rule where they apply.
public struct PropertyResult: Sendable, Equatable {
    /// The property name (after any rename).
    public var name: String
    /// What happened.
    public var outcome: Outcome
    /// Why it was ignored or rejected, or what a rule did.
    public var reason: String?
    /// The rule that rejected, added or renamed it.
    public var rule: String?

    /// Creates a value from its parts.
    public init(name: String, outcome: Outcome, reason: String? = nil, rule: String? = nil) {
        self.name = name
        self.outcome = outcome
        self.reason = reason
        self.rule = rule
    }
}

/// The results of one op key of one element.
public struct OpResult: Sendable, Equatable {
    /// The profile the op applied to; nil once that profile is erased (SPEC §9).
    public var distinctID: String?
    /// Which op key.
    public var op: Op
    /// One result per property, in the order sent (rule-added ones last).
    public var properties: [PropertyResult]

    /// Creates a value from its parts.
    public init(distinctID: String?, op: Op, properties: [PropertyResult]) {
        self.distinctID = distinctID
        self.op = op
        self.properties = properties
    }
}

/// A processed request as stored and as `GET …/requests/{id}` shows it.
public struct RequestRecord: Sendable, Equatable {
    /// The request id returned to the caller.
    public var id: UUID
    /// When the engine received the request.
    public var receivedAt: Date
    /// One entry per (element, op key), in op order.
    public var results: [OpResult]
    /// A lifecycle action's one entry (its `results` are empty).
    public var lifecycle: LifecycleResult?

    /// Creates a value from its parts.
    public init(id: UUID, receivedAt: Date, results: [OpResult], lifecycle: LifecycleResult? = nil) {
        self.id = id
        self.receivedAt = receivedAt
        self.results = results
        self.lifecycle = lifecycle
    }

    /// Results of every op in order, flattened: handy for tests and summaries.
    public var propertyResults: [PropertyResult] { results.flatMap(\.properties) }
}

/// SPEC §9's lifecycle writes. Each goes through the store's commit like any
/// write, after the writes queued before it, and leaves a record of one entry.
public enum LifecycleAction: Sendable, Equatable {
    /// Erase the profile with this distinct_id and all its properties.
    case deleteProfile(String)
    /// Remove this property from every profile of the namespace and unregister its type.
    case dropProperty(String)
}

/// A lifecycle action's record entry. It never names an erased profile.
public struct LifecycleResult: Sendable, Equatable {
    /// The entry's `op`.
    public enum Kind: String, Sendable {
        case delete
        case dropProperty = "drop_property"
    }

    public var kind: Kind
    /// The dropped property's name (`drop_property` only).
    public var property: String?
    /// Whether there was a profile to erase or a property to drop; else the outcome is `unchanged`.
    public var changed: Bool

    /// Creates a value from its parts.
    public init(kind: Kind, property: String? = nil, changed: Bool) {
        self.kind = kind
        self.property = property
        self.changed = changed
    }

    /// The entry `outcome`: `deleted`, `dropped` or `unchanged`.
    public var outcome: String {
        guard changed else { return "unchanged" }
        return kind == .delete ? "deleted" : "dropped"
    }
}
