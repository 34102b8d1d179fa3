import Foundation

/// A property of a namespace, whatever the profile.
package struct PropertyName: Hashable, Sendable {
    package var namespace: Namespace
    package var name: String

    package init(namespace: Namespace, name: String) {
        self.namespace = namespace
        self.name = name
    }
}

/// The op semantics of SPEC §2, over any store's ``StoreTransaction``.
package enum RequestApplier {
    /// What an op asks of the type registry for one property: nothing, the
    /// registered type only, or that type after registering `candidate` if there is none.
    package enum TypeUse: Equatable {
        case none, read
        case register(PropertyType)

        init(_ op: Op, _ plan: PreparedProperty.Plan) {
            switch (op, plan) {
            case (_, .settled), (.unset, _): self = .none
            case (.add, _): self = .register(.number)
            case (.append, _): self = .register(.list)
            case (.remove, _): self = .read
            case (_, .value(let value)): self = .register(value.type)
            default: self = .none
            }
        }

        var candidate: PropertyType? {
            if case .register(let type) = self { return type }
            return nil
        }
    }

    /// Every type a batch looks up, each with the type its first registering
    /// use in batch order would register (nil when all its uses only read).
    /// Registering these up front, before the requests run, gives each request
    /// the type it would have found running the batch one request at a time.
    package static func typeCandidates(in batch: [PreparedRequest]) -> [PropertyName: PropertyType?] {
        var candidates: [PropertyName: PropertyType?] = [:]
        for request in batch {
            for element in request.elements {
                for op in element.ops {
                    for property in op.properties {
                        let use = TypeUse(op.op, property.plan)
                        guard use != .none else { continue }
                        let key = PropertyName(namespace: request.namespace, name: property.name)
                        if case .some(.some) = candidates[key] { continue }  // an earlier use registers it
                        candidates[key] = use.candidate
                    }
                }
            }
        }
        return candidates
    }

    package static func apply<Transaction: StoreTransaction>(_ request: PreparedRequest, in transaction: inout Transaction) throws -> RequestRecord {
        if let action = request.lifecycle {
            let lifecycle = switch action {
            case .deleteProfile(let distinctID): LifecycleResult(kind: .delete, changed: try transaction.eraseProfile(distinctID))
            case .dropProperty(let name): LifecycleResult(kind: .dropProperty, property: name, changed: try transaction.dropProperty(name))
            }
            let record = RequestRecord(id: request.id, receivedAt: request.receivedAt, results: [], lifecycle: lifecycle)
            try transaction.save(record)
            return record
        }
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
            let outcomes = op.op == .setOnce
                ? try setOnce(op.properties, to: id, in: &transaction)
                : try op.properties.map { try apply(op.op, $0, to: id, in: &transaction) }
            let properties = zip(op.properties, outcomes).map { $0.withProvenance($1) }
            changed = changed || properties.contains { $0.outcome.changesProfile }
            results.append(OpResult(distinctID: id, op: op.op, properties: properties))
        }
        if changed && !created { try transaction.touchProfile(id) }
        return results
    }

    /// `set_once` of a whole op: types first (each registers or is read), then
    /// every conforming value in one ``StoreTransaction/insertEachIfAbsent(_:_:)``.
    /// The same outcomes as one property at a time, in fewer store round trips.
    private static func setOnce<Transaction: StoreTransaction>(_ properties: [PreparedProperty], to id: String,
                                                             in transaction: inout Transaction) throws -> [PropertyResult] {
        var results: [PropertyResult?] = []
        var inserts: [(index: Int, name: String, value: PropertyValue)] = []
        results.reserveCapacity(properties.count)
        inserts.reserveCapacity(properties.count)
        for property in properties {
            switch property.plan {
            case .settled(let result):
                results.append(result)
            case .value(let value):
                let registered = try transaction.registeredType(property.name, registering: TypeUse(.setOnce, property.plan).candidate)!
                if let stored = value.conforming(to: registered) {
                    inserts.append((results.count, property.name, stored))
                    results.append(nil)
                } else {
                    results.append(mismatch(property.name, registered, value.type))
                }
            default:
                preconditionFailure("plan \(property.plan) does not fit set_once")
            }
        }
        let stored = try transaction.insertEachIfAbsent(id, inserts.map { ($0.name, $0.value) })
        for (insert, wasStored) in zip(inserts, stored) {
            results[insert.index] = PropertyResult(name: insert.name, outcome: wasStored ? .set : .unchanged)
        }
        return results.map { $0! }
    }

    private static func mismatch(_ name: String, _ registered: PropertyType, _ sent: PropertyType) -> PropertyResult {
        PropertyResult(name: name, outcome: .ignoredTypeMismatch, reason: "\(name) is registered as \(registered.rawValue), not \(sent.rawValue)")
    }

    private static func apply<Transaction: StoreTransaction>(_ op: Op, _ property: PreparedProperty, to id: String,
                                                          in transaction: inout Transaction) throws -> PropertyResult {
        let name = property.name
        func outcome(_ outcome: Outcome, _ reason: String? = nil) -> PropertyResult {
            PropertyResult(name: name, outcome: outcome, reason: reason)
        }
        func mismatch(_ registered: PropertyType, _ sent: PropertyType) -> PropertyResult {
            Self.mismatch(name, registered, sent)
        }
        switch (op, property.plan) {
        case (_, .settled(let result)):
            return result

        case (.set, .value(let value)):
            let registered = try transaction.registeredType(name, registering: TypeUse(op, property.plan).candidate)!
            guard let stored = value.conforming(to: registered) else { return mismatch(registered, value.type) }
            return outcome(try transaction.upsert(id, name, stored) ? .set : .unchanged)

        case (.add, .value(let value)):
            let registered = try transaction.registeredType(name, registering: TypeUse(op, property.plan).candidate)!
            guard registered == .number else { return mismatch(registered, .number) }
            try transaction.add(id, name, value)
            return outcome(.set)

        case (.append, .elements(let elements)), (.remove, .elements(let elements)):
            let registered = try transaction.registeredType(name, registering: TypeUse(op, property.plan).candidate)
            guard let registered else { return outcome(.unchanged) }
            guard registered == .list else { return mismatch(registered, .list) }
            switch try transaction.editList(op, id, name, elements) {
            case .edited: return outcome(.set)
            case .unchanged: return outcome(.unchanged)
            case .tooLong: return outcome(.ignoredInvalid, "lists hold at most \(Validator.maxListCount) elements")
            }

        case (.unset, .delete):
            return outcome(try transaction.delete(id, name) ? .unset : .unchanged)

        default:
            preconditionFailure("plan \(property.plan) does not fit op \(op)")
        }
    }
}
