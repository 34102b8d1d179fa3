import Foundation

/// A request a rule rejected whole (SPEC §4): nothing of it is written.
public struct RuleRejection: Error, Sendable, Equatable, CustomStringConvertible {
    /// The rejecting rule's name.
    public var rule: String
    /// Its `once.reject` reason (or the failure, under `on_error = "reject"`).
    public var reason: String
    /// `rejected by rule "name": reason`.
    public var description: String { "rejected by rule \"\(rule)\": \(reason)" }
}

/// What a rule did to a property, carried into its outcome.
public enum Provenance: Sendable, Equatable {
    case added(rule: String)
    case renamed(rule: String, from: String)
}

/// A property on its way through the chain, and as the chain leaves it.
public struct RuledProperty: Sendable, Equatable {
    /// The current name (a rename changes it).
    public var name: String
    /// The current value, still untyped JSON.
    public var value: JSON
    /// What a rule did to it, if anything.
    public var provenance: Provenance?
    /// Its outcome, once decided before validation: a rule dropped it, or its
    /// value could never be stored. Later rules no longer see it.
    public var settled: PropertyResult?

    /// A property as sent.
    public init(name: String, value: JSON, provenance: Provenance? = nil, settled: PropertyResult? = nil) {
        self.name = name
        self.value = value
        self.provenance = provenance
        self.settled = settled
    }

    /// A property as decoded: a value that can never be stored (``Validator/unstorable(_:)``)
    /// is settled `ignored_invalid` here, so no rule is ever handed it.
    public init(decoded member: JSONObject.Member) {
        self.init(name: member.key, value: member.value, settled: Validator.unstorable(member.value).map {
            PropertyResult(name: member.key, outcome: .ignoredInvalid, reason: $0.reason)
        })
    }
}

extension RuleSet {
    /// Runs the chain over each op of each element of `request`, on one state of this generation.
    /// Returns, per element, the properties of each op after the rules.
    ///
    /// - Parameter types: what `ctx.type_of` answers (the namespace's registered types).
    /// - Throws: ``RuleRejection`` when a request hook rejects the request.
    public func apply(to request: WriteRequest, types: [String: PropertyType] = [:]) throws -> [[[RuledProperty]]] {
        let receivedAt = ISODate.utcText(milliseconds: Int64((request.receivedAt.timeIntervalSince1970 * 1000).rounded(.down)))
        return try pool.withState { state in
            try request.elements.map { element in
                try element.ops.map { input in
                    let context = HookContext(callID: HookContext.nextCallID(), namespace: request.namespace,
                                              distinctID: element.distinctID, op: input.op,
                                              requestID: request.id.lowercaseString, receivedAt: receivedAt, types: types)
                    var properties = input.properties.members.map(RuledProperty.init(decoded:))
                    try run(allIndices, on: &properties, context: context, state: state)
                    return properties
                }
            }
        }
    }

    /// The chain proper: each applicable rule's request hook, then its property hook.
    ///
    /// The properties live in Lua too (``LuaState/mirror(_:)``), kept in step
    /// with every change, so one call into C runs a property hook over all of
    /// them and only what a hook changed crosses back into Swift.
    func run(_ indices: [Int], on properties: inout [RuledProperty], context: HookContext,
             state: LuaState) throws(RuleRejection) {
        var mirrored = false
        for index in indices {
            let rule = rules[index]
            guard rule.applies(to: context.op, in: context.namespace) else { continue }
            if rule.hasRequestHook {
                try runRequestHook(index, rule, &properties, context, state)
                mirrored = false
            }
            if rule.hasPropertyHook {
                if !mirrored { state.mirror(properties) }
                mirrored = true
                runPropertyHook(index, rule, &properties, context, state)
            }
        }
    }

    private func runRequestHook(_ index: Int, _ rule: Rule, _ properties: inout [RuledProperty],
                                _ context: HookContext, _ state: LuaState) throws(RuleRejection) {
        var live: [String: JSON] = [:]
        for property in properties where property.settled == nil { live[property.name] = property.value }
        switch state.callRequest(index, properties: live, context: context) {
        case .reject(let reason):
            throw RuleRejection(rule: rule.name, reason: reason)
        case .failed(let message):
            report(rule, message, property: nil)
            if rule.onError == .reject { throw RuleRejection(rule: rule.name, reason: "rule failed: \(message)") }
        case .properties(let after):
            for position in properties.indices where properties[position].settled == nil {
                let name = properties[position].name
                if let value = after[name] {
                    properties[position].value = value
                } else {
                    properties[position].settled = PropertyResult(name: name, outcome: .rejectedByRule,
                                                                    reason: "removed by the request hook", rule: rule.name)
                }
            }
            // New names go last, in a stable order (Lua tables have none).
            for name in after.keys.filter({ live[$0] == nil }).sorted() {
                properties.append(RuledProperty(name: name, value: after[name]!, provenance: .added(rule: rule.name)))
            }
        }
    }

    private func runPropertyHook(_ index: Int, _ rule: Rule, _ properties: inout [RuledProperty],
                                 _ context: HookContext, _ state: LuaState) {
        var statuses = [Int8](repeating: HookStatus.skip, count: properties.count)
        for position in properties.indices where properties[position].settled == nil {
            if rule.propertyPattern != nil && !state.ruleMatches(index, name: properties[position].name) { continue }
            statuses[position] = HookStatus.run
            // Hooks get tables fresh: one may have changed its argument in place and returned nothing.
            if properties[position].value.isContainer { state.setMirrored(position, value: properties[position].value) }
        }
        let loopFailure = state.callPropertyHook(index, statuses: &statuses, context: context)
        for position in properties.indices where statuses[position] != HookStatus.skip && statuses[position] != HookStatus.kept {
            // A rename earlier in this loop may have replaced this property: its own result no longer counts.
            guard properties[position].settled == nil else { continue }
            let result = statuses[position] == HookStatus.run
                ? PropertyHookResult.failed(loopFailure ?? "not run")
                : state.hookResult(at: position, status: statuses[position])
            apply(result, of: rule, to: position, &properties, state)
        }
    }

    /// Applies one property hook's result, in Swift and in the Lua mirror.
    private func apply(_ result: PropertyHookResult, of rule: Rule, to position: Int,
                       _ properties: inout [RuledProperty], _ state: LuaState) {
        let name = properties[position].name
        switch result {
        case .keep:
            break
        case .replace(let value):
            properties[position].value = value
            state.adoptReturned(position)
        case .reject(let reason):
            properties[position].settled = PropertyResult(name: name, outcome: .rejectedByRule,
                                                            reason: reason, rule: rule.name)
        case .rename(let newName, let value):
            guard newName != name else {
                properties[position].value = value
                state.setMirrored(position, value: value)
                return
            }
            // The renamed value takes the place of any property already under that name.
            for other in properties.indices where other != position && properties[other].name == newName
                && properties[other].settled == nil {
                properties[other].settled = PropertyResult(name: newName, outcome: .rejectedByRule,
                                                             reason: "replaced by the rename of \(name)", rule: rule.name)
            }
            properties[position].name = newName
            properties[position].value = value
            properties[position].provenance = .renamed(rule: rule.name, from: name)
            state.setMirrored(position, name: newName, value: value)
        case .failed(let message):
            report(rule, message, property: name)
            if rule.onError == .reject {
                properties[position].settled = PropertyResult(name: name, outcome: .rejectedByRule,
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

private extension JSON {
    /// Arrays and objects become Lua tables, which a hook can change in place.
    var isContainer: Bool {
        switch self {
        case .array, .object: true
        default: false
        }
    }
}
