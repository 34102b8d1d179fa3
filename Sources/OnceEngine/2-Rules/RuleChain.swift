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

    /// Whether rules still see it (it is not settled). Asked of an array element in
    /// place, where `settled == nil` copied the whole property first.
    var isLive: Bool {
        if case .none = settled { return true }
        return false
    }

    /// Whether its value becomes a Lua table, which a hook can change in place.
    var holdsTable: Bool {
        switch value {
        case .array, .object: true
        default: false
        }
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
        let receivedAt = Int64((request.receivedAt.timeIntervalSince1970 * 1000).rounded(.down))
        let callID = HookContext.nextCallID()
        let steps = steps(in: request.namespace)
        var opIndex = 0
        return try pool.withState { state in
            try request.elements.map { element in
                try element.ops.map { input in
                    opIndex += 1
                    let context = HookContext(callID: callID, opIndex: opIndex, namespace: request.namespace,
                                              distinctID: element.distinctID, op: input.op, requestID: request.id,
                                              receivedAt: receivedAt, types: types)
                    var properties = input.properties.members.map(RuledProperty.init(decoded:))
                    try run(steps, on: &properties, context: context, state: state)
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
    func run(_ steps: [ChainStep], on properties: inout [RuledProperty], context: HookContext,
             state: LuaState) throws(RuleRejection) {
        var mirrored = false
        for step in steps where step.runs(for: context.op) {
            if step.hasRequestHook {
                try runRequestHook(step.index, rules[step.index], &properties, context, state)
                mirrored = false
            }
            if step.hasPropertyHook {
                if !mirrored { state.mirror(properties) }
                mirrored = true
                runPropertyHook(step, &properties, context, state)
            }
        }
    }

    private func runRequestHook(_ index: Int, _ rule: Rule, _ properties: inout [RuledProperty],
                                _ context: HookContext, _ state: LuaState) throws(RuleRejection) {
        switch state.callRequest(index, properties: properties, context: context) {
        case .unchanged:
            break
        case .reject(let reason):
            throw RuleRejection(rule: rule.name, reason: reason)
        case .failed(let message):
            report(rule, message, property: nil)
            if rule.onError == .reject { throw RuleRejection(rule: rule.name, reason: "rule failed: \(message)") }
        case .properties(let after):
            let live = Set(properties.lazy.filter(\.isLive).map(\.name))
            for position in properties.indices where properties[position].isLive {
                let name = properties[position].name
                if let value = after[name] {
                    properties[position].value = value
                } else {
                    properties[position].settled = PropertyResult(name: name, outcome: .rejectedByRule,
                                                                    reason: "removed by the request hook", rule: rule.name)
                }
            }
            // New names go last, in a stable order (Lua tables have none).
            for name in after.keys.filter({ !live.contains($0) }).sorted() {
                properties.append(RuledProperty(name: name, value: after[name]!, provenance: .added(rule: rule.name)))
            }
        }
    }

    private func runPropertyHook(_ step: ChainStep, _ properties: inout [RuledProperty],
                                 _ context: HookContext, _ state: LuaState) {
        let index = step.index
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: properties.count) { statuses in
            statuses.initialize(repeating: HookStatus.skip)
            for position in properties.indices where properties[position].isLive {
                if step.hasPattern && !state.ruleMatches(index, name: properties[position].name) { continue }
                statuses[position] = HookStatus.run
                // Hooks get tables fresh: one may have changed its argument in place and returned nothing.
                if properties[position].holdsTable { state.setMirrored(position, value: properties[position].value) }
            }
            let outcome = state.callPropertyHook(index, statuses: statuses, context: context)
            if case .allKept = outcome { return }
            for position in properties.indices where statuses[position] != HookStatus.skip && statuses[position] != HookStatus.kept {
                // A rename earlier in this loop may have replaced this property: its own result no longer counts.
                guard properties[position].isLive else { continue }
                let result = statuses[position] == HookStatus.run
                    ? PropertyHookResult.failed(outcome.failure ?? "not run")
                    : state.hookResult(at: position, status: statuses[position])
                apply(result, of: rules[index], to: position, &properties, state)
            }
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
                && properties[other].isLive {
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
