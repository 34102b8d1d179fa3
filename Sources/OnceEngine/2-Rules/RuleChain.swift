import Foundation

/// A request a rule rejected whole (SPEC §4): nothing of it is written.
public struct RuleRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public var rule: String
    public var reason: String
    public var description: String { "rejected by rule \"\(rule)\": \(reason)" }
}

/// What a rule did to a property, carried into its outcome.
public enum Provenance: Sendable, Equatable {
    case added(rule: String)
    case renamed(rule: String, from: String)
}

/// A property on its way through the chain.
struct RuledProperty: Equatable {
    var name: String
    var value: JSON
    var provenance: Provenance?
    /// Set once a rule drops the property; later rules no longer see it.
    var rejection: PropertyResult?
}

extension RuleSet {
    /// Runs the chain over each op of each element of `request`, on one state of this generation.
    /// Returns, per element, the properties of each op after the rules.
    func apply(to request: WriteRequest, types: [String: PropertyType]) throws -> [[[RuledProperty]]] {
        let receivedAt = ISODate.utcText(milliseconds: Int64((request.receivedAt.timeIntervalSince1970 * 1000).rounded(.down)))
        return try pool.withState { state in
            try request.elements.map { element in
                try element.ops.map { input in
                    let context = HookContext(namespace: request.namespace, distinctID: element.distinctID, op: input.op,
                                              requestID: request.id.uuidString.lowercased(), receivedAt: receivedAt, types: types)
                    let properties = input.properties.members.map { RuledProperty(name: $0.key, value: $0.value) }
                    return try run(rules.indices, on: properties, context: context, state: state)
                }
            }
        }
    }

    /// The chain proper: each applicable rule's request hook, then its property hook.
    func run(_ indices: some Sequence<Int>, on properties: [RuledProperty], context: HookContext,
             state: LuaState) throws(RuleRejection) -> [RuledProperty] {
        var properties = properties
        for index in indices {
            let rule = rules[index]
            guard rule.applies(to: context.op, in: context.namespace) else { continue }
            if rule.hasRequestHook {
                try runRequestHook(index, rule, &properties, context, state)
            }
            if rule.hasPropertyHook {
                for position in properties.indices where properties[position].rejection == nil {
                    guard state.ruleMatches(index, name: properties[position].name) else { continue }
                    runPropertyHook(index, rule, position, &properties, context, state)
                }
            }
        }
        return properties
    }

    private func runRequestHook(_ index: Int, _ rule: Rule, _ properties: inout [RuledProperty],
                                _ context: HookContext, _ state: LuaState) throws(RuleRejection) {
        var live: [String: JSON] = [:]
        for property in properties where property.rejection == nil { live[property.name] = property.value }
        switch state.callRequest(index, properties: live, context: context) {
        case .reject(let reason):
            throw RuleRejection(rule: rule.name, reason: reason)
        case .failed(let message):
            report(rule, message, property: nil)
            if rule.onError == .reject { throw RuleRejection(rule: rule.name, reason: "rule failed: \(message)") }
        case .properties(let after):
            for position in properties.indices where properties[position].rejection == nil {
                let name = properties[position].name
                if let value = after[name] {
                    properties[position].value = value
                } else {
                    properties[position].rejection = PropertyResult(name: name, outcome: .rejectedByRule,
                                                                    reason: "removed by the request hook", rule: rule.name)
                }
            }
            // New names go last, in a stable order (Lua tables have none).
            for name in after.keys.filter({ live[$0] == nil }).sorted() {
                properties.append(RuledProperty(name: name, value: after[name]!, provenance: .added(rule: rule.name)))
            }
        }
    }

    private func runPropertyHook(_ index: Int, _ rule: Rule, _ position: Int, _ properties: inout [RuledProperty],
                                 _ context: HookContext, _ state: LuaState) {
        let property = properties[position]
        switch state.callProperty(index, name: property.name, value: property.value, context: context) {
        case .keep:
            break
        case .replace(let value):
            properties[position].value = value
        case .reject(let reason):
            properties[position].rejection = PropertyResult(name: property.name, outcome: .rejectedByRule,
                                                            reason: reason, rule: rule.name)
        case .rename(let name, let value):
            guard name != property.name else {
                properties[position].value = value
                return
            }
            // The renamed value takes the place of any property already under that name.
            for other in properties.indices where other != position && properties[other].name == name
                && properties[other].rejection == nil {
                properties[other].rejection = PropertyResult(name: name, outcome: .rejectedByRule,
                                                             reason: "replaced by the rename of \(property.name)", rule: rule.name)
            }
            properties[position].name = name
            properties[position].value = value
            properties[position].provenance = .renamed(rule: rule.name, from: property.name)
        case .failed(let message):
            report(rule, message, property: property.name)
            if rule.onError == .reject {
                properties[position].rejection = PropertyResult(name: property.name, outcome: .rejectedByRule,
                                                                reason: "rule failed: \(message)", rule: rule.name)
            }
        }
    }

    private func report(_ rule: Rule, _ message: String, property: String?) {
        stats.recordFailure(message)
        let target = property.map { "property \($0)" } ?? "the request hook"
        RuleLog.shared.log(rule: rule.name, "rule failed on \(target): \(message)", level: .warning)
    }
}
