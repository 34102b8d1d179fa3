import Foundation

/// The primitive steps a store offers inside one request's transaction, for
/// one namespace at one instant. Each is a single atomic, conditional step
/// in the store: the op semantics built on them (``RequestApplier``) are the
/// same for every store. (`package`: the PostgreSQL store lives in its own module.)
package protocol StoreTransaction {
    /// The namespace's type for `name`, registering `candidate` if it has none.
    /// Nil only when there is none and `candidate` is nil.
    mutating func registeredType(_ name: String, registering candidate: PropertyType?) throws -> PropertyType?
    /// Creates the profile unless it exists; whether it did.
    mutating func createProfile(_ distinctID: String) throws -> Bool
    mutating func touchProfile(_ distinctID: String) throws
    /// Stores `value` only if the profile has none for `name`; whether it did.
    mutating func insertIfAbsent(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool
    /// ``insertIfAbsent(_:_:_:)`` for each value in order, as one step where the
    /// store can (one statement instead of one round trip per property).
    mutating func insertEachIfAbsent(_ distinctID: String, _ values: [(name: String, value: PropertyValue)]) throws -> [Bool]
    /// Stores `value`, replacing any other; whether the stored value (or its written form) changed.
    mutating func upsert(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool
    /// Adds `number` to the stored number (an unset one starts from 0).
    mutating func add(_ distinctID: String, _ name: String, _ number: PropertyValue) throws
    /// Appends (`.append`) or removes (`.remove`) list elements as SPEC §2 says,
    /// in one conditional step: a store that can race other writers must not
    /// read the list in Swift and write it back.
    mutating func editList(_ op: Op, _ distinctID: String, _ name: String, _ elements: [PropertyValue]) throws -> ListEditResult
    /// Deletes the property; whether there was one.
    mutating func delete(_ distinctID: String, _ name: String) throws -> Bool
    /// Erases the profile and every value it holds, and every trace of its
    /// distinct_id in earlier records (SPEC §9); whether there was such a profile.
    mutating func eraseProfile(_ distinctID: String) throws -> Bool
    /// Removes the property from every profile of the namespace and unregisters
    /// its type, visibly at once (the rows may go later); whether it was registered.
    mutating func dropProperty(_ name: String) throws -> Bool
    mutating func save(_ record: RequestRecord) throws
}

extension StoreTransaction {
    package mutating func insertEachIfAbsent(_ distinctID: String, _ values: [(name: String, value: PropertyValue)]) throws -> [Bool] {
        try values.map { try insertIfAbsent(distinctID, $0.name, $0.value) }
    }
}

/// What a list edit did to the stored list.
package enum ListEditResult: Sendable {
    case edited, unchanged
    /// Appending would pass ``Validator/maxListCount``: nothing was written.
    case tooLong
}
