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
    /// The profile the op applied to.
    public var distinctID: String
    /// Which op key.
    public var op: Op
    /// One result per property, in the order sent (rule-added ones last).
    public var properties: [PropertyResult]

    /// Creates a value from its parts.
    public init(distinctID: String, op: Op, properties: [PropertyResult]) {
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

    /// Creates a value from its parts.
    public init(id: UUID, receivedAt: Date, results: [OpResult]) {
        self.id = id
        self.receivedAt = receivedAt
        self.results = results
    }

    /// Results of every op in order, flattened: handy for tests and summaries.
    public var propertyResults: [PropertyResult] { results.flatMap(\.properties) }
}
