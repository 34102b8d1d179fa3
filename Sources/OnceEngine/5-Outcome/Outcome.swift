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
    public var name: String
    public var outcome: Outcome
    public var reason: String?
    public var rule: String?

    public init(name: String, outcome: Outcome, reason: String? = nil, rule: String? = nil) {
        self.name = name
        self.outcome = outcome
        self.reason = reason
        self.rule = rule
    }
}

/// The results of one op key of one element.
public struct OpResult: Sendable, Equatable {
    public var distinctID: String
    public var op: Op
    public var properties: [PropertyResult]

    public init(distinctID: String, op: Op, properties: [PropertyResult]) {
        self.distinctID = distinctID
        self.op = op
        self.properties = properties
    }
}

/// A processed request as stored and as `GET …/requests/{id}` shows it.
public struct RequestRecord: Sendable, Equatable {
    public var id: UUID
    public var receivedAt: Date
    public var results: [OpResult]

    public init(id: UUID, receivedAt: Date, results: [OpResult]) {
        self.id = id
        self.receivedAt = receivedAt
        self.results = results
    }

    /// Results of every op in order, flattened: handy for tests and summaries.
    public var propertyResults: [PropertyResult] { results.flatMap(\.properties) }
}
