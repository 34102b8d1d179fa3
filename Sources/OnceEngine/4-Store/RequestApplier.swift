import Foundation

/// The primitive steps a store offers inside one request's transaction, for
/// one namespace at one instant. Each is a single atomic, conditional step
/// in the store: the op semantics built on them (``RequestApplier``) are the
/// same for every store.
protocol StoreTransaction {
    /// The namespace's type for `name`, registering `candidate` if it has none.
    /// Nil only when there is none and `candidate` is nil.
    mutating func registeredType(_ name: String, registering candidate: PropertyType?) throws -> PropertyType?
    /// Creates the profile unless it exists; whether it did.
    mutating func createProfile(_ distinctID: String) throws -> Bool
    mutating func touchProfile(_ distinctID: String) throws
    /// Stores `value` only if the profile has none for `name`; whether it did.
    mutating func insertIfAbsent(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool
    /// Stores `value`, replacing any other; whether the stored value (or its written form) changed.
    mutating func upsert(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool
    /// Adds `number` to the stored number (an unset one starts from 0).
    mutating func add(_ distinctID: String, _ name: String, _ number: PropertyValue) throws
    /// The stored list, or nil when the property is unset.
    mutating func list(_ distinctID: String, _ name: String) throws -> [PropertyValue]?
    /// Deletes the property; whether there was one.
    mutating func delete(_ distinctID: String, _ name: String) throws -> Bool
    mutating func save(_ record: RequestRecord) throws
}

/// The op semantics of SPEC §2, over any store's ``StoreTransaction``.
enum RequestApplier {
    static func apply<Transaction: StoreTransaction>(_ request: PreparedRequest, in transaction: inout Transaction) throws -> RequestRecord {
        var results: [OpResult] = []
        for element in request.elements {
            results.append(contentsOf: try apply(element, in: &transaction))
        }
        let record = RequestRecord(id: request.id, receivedAt: request.receivedAt, results: results)
        try transaction.save(record)
        return record
    }

    private static func apply<Transaction: StoreTransaction>(_ element: PreparedElement, in transaction: inout Transaction) throws -> [OpResult] {
        let id = element.distinctID
        let created = element.createsProfile ? try transaction.createProfile(id) : false
        var changed = false
        var results: [OpResult] = []
        for op in element.ops {
            var properties: [PropertyResult] = []
            for property in op.properties {
                let result = property.withProvenance(try apply(op.op, property, to: id, in: &transaction))
                changed = changed || [.set, .addedByRule, .unset].contains(result.outcome)
                properties.append(result)
            }
            results.append(OpResult(distinctID: id, op: op.op, properties: properties))
        }
        if changed && !created { try transaction.touchProfile(id) }
        return results
    }

    private static func apply<Transaction: StoreTransaction>(_ op: Op, _ property: PreparedProperty, to id: String,
                                                          in transaction: inout Transaction) throws -> PropertyResult {
        let name = property.name
        func outcome(_ outcome: Outcome, _ reason: String? = nil) -> PropertyResult {
            PropertyResult(name: name, outcome: outcome, reason: reason)
        }
        func mismatch(_ registered: PropertyType, _ sent: PropertyType) -> PropertyResult {
            outcome(.ignoredTypeMismatch, "\(name) is registered as \(registered.rawValue), not \(sent.rawValue)")
        }
        switch (op, property.plan) {
        case (_, .settled(let result)):
            return result

        case (.setOnce, .value(let value)), (.set, .value(let value)):
            let registered = try transaction.registeredType(name, registering: value.type)!
            guard let stored = value.conforming(to: registered) else { return mismatch(registered, value.type) }
            let changed = op == .setOnce
                ? try transaction.insertIfAbsent(id, name, stored)
                : try transaction.upsert(id, name, stored)
            return outcome(changed ? .set : .unchanged)

        case (.add, .value(let value)):
            let registered = try transaction.registeredType(name, registering: .number)!
            guard registered == .number else { return mismatch(registered, .number) }
            try transaction.add(id, name, value)
            return outcome(.set)

        case (.append, .elements(let elements)), (.remove, .elements(let elements)):
            let registered = try transaction.registeredType(name, registering: op == .append ? .list : nil)
            guard let registered else { return outcome(.unchanged) }
            guard registered == .list else { return mismatch(registered, .list) }
            let current = try transaction.list(id, name)
            let edited = op == .append
                ? ListEdit.appending(elements, to: current ?? [])
                : current.flatMap { ListEdit.removing(elements, from: $0) }
            guard let edited else { return outcome(.unchanged) }
            if edited.count > Validator.maxListCount {
                return outcome(.ignoredInvalid, "lists hold at most \(Validator.maxListCount) elements")
            }
            _ = try transaction.upsert(id, name, .list(edited))
            return outcome(.set)

        case (.unset, .delete):
            return outcome(try transaction.delete(id, name) ? .unset : .unchanged)

        default:
            preconditionFailure("plan \(property.plan) does not fit op \(op)")
        }
    }
}
