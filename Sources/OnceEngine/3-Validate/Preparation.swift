/// The validate stage: turns each property of an element into a plan the store
/// can apply, or settles it as `ignored_invalid` right here.
enum Preparation {
    static func prepare(_ element: Element) -> PreparedElement {
        PreparedElement(distinctID: element.distinctID, ops: element.ops.map { input in
            PreparedOp(op: input.op, properties: input.properties.members.map { member in
                prepare(input.op, name: member.key, value: member.value)
            })
        })
    }

    static func prepare(_ op: Op, name: String, value: JSON, addedByRule rule: String? = nil) -> PreparedProperty {
        func settle(_ invalid: InvalidValue) -> PreparedProperty {
            PreparedProperty(name: name, plan: .settled(PropertyResult(name: name, outcome: .ignoredInvalid,
                                                                      reason: invalid.reason, rule: rule)),
                             addedByRule: rule)
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
        case .success(let plan): return PreparedProperty(name: name, plan: plan, addedByRule: rule)
        case .failure(let invalid): return settle(invalid)
        }
    }
}
