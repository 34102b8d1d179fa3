/// A cohort filter (SPEC §8), checked against the namespace's registered
/// types: every condition knows its property's type and holds its operand as
/// a value of that type. ``FilterDecoder`` makes one from JSON; each store
/// compiles it to SQL, and ``FilterEvaluator`` is the plain reading of §8
/// that the stores are tested against.
public indirect enum Filter: Sendable, Equatable {
    case and([Filter])
    case or([Filter])
    case not(Filter)
    case condition(Condition)
    /// A condition on a property with no registered type: nothing matches it,
    /// except `not_set`, which every profile matches.
    case constant(Bool)

    /// Every profile (an absent or `{}` `where`).
    public static let everything = Filter.and([])
}

/// One `{"property", "op", "value"}` of a filter.
public struct Condition: Sendable, Equatable {
    public var property: String
    /// The property's registered type when the filter was checked. A store
    /// that finds another type registered by the time it runs (the property
    /// was dropped and registered anew) treats the condition as `constant(false)`.
    public var type: PropertyType
    public var test: Test

    public init(property: String, type: PropertyType, test: Test) {
        self.property = property
        self.type = type
        self.test = test
    }
}

/// What a condition asks of a stored value. Operands are of the property's
/// type (``Condition/type``): numbers compare numerically, dates by instant,
/// strings by their UTF-8 bytes.
public enum Test: Sendable, Equatable {
    case equals(PropertyValue)
    case differs(PropertyValue)
    case below(PropertyValue, orEqual: Bool)
    case above(PropertyValue, orEqual: Bool)
    case oneOf([PropertyValue])
    /// A list holding an element equal to this one (SPEC §2's list equality).
    case holds(PropertyValue)
    case substring(String)
    case prefix(String)
    /// A date between these instants (µs), both included: `within_days`
    /// resolved against the query's time, so every page of a scan and every
    /// store sees the same window.
    case between(Int64, Int64)
    case isSet
    case notSet
}
