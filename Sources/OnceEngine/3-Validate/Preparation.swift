/// The validate stage: turns each property the rules let through into a plan
/// the store can apply, or settles it here (`ignored_invalid`, or the rules'
/// `rejected_by_rule`).
enum Preparation {
    static func prepare(distinctID: String, ops: [(op: Op, properties: [RuledProperty])]) -> PreparedElement {
        PreparedElement(distinctID: distinctID, ops: ops.map { op, properties in
            PreparedOp(op: op, properties: properties.map { property in
                if let settled = property.settled {
                    return PreparedProperty(name: property.name, plan: .settled(settled))
                }
                return prepare(op, name: property.name, value: property.value, provenance: property.provenance)
            })
        })
    }

    static func prepare(_ op: Op, name: String, value: JSON, provenance: Provenance? = nil) -> PreparedProperty {
        func settle(_ invalid: InvalidValue) -> PreparedProperty {
            PreparedProperty(name: name, plan: .settled(PropertyResult(name: name, outcome: .ignoredInvalid, reason: invalid.reason)),
                             provenance: provenance)
        }
        if let invalid = Validator.checkName(name) { return settle(invalid) }
        let plan: Result<PreparedProperty.Plan, InvalidValue>
        switch op {
        case .setOnce, .set: plan = Validator.value(value).map { .value($0) }
        case .add: plan = Validator.number(value).map { .value($0) }
        case .append, .remove: plan = Validator.listElements(value).map { .elements($0) }
        case .unset: plan = .success(.delete)
        }
        switch plan {
        case .success(let plan): return PreparedProperty(name: name, plan: plan, provenance: provenance)
        case .failure(let invalid): return settle(invalid)
        }
    }
}
