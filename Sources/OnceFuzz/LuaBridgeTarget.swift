import Foundation
import OnceEngine

/// Values crossing between Swift and Lua, both ways.
///
/// Input that is JSON goes through an echo rule's property and request hooks
/// on one long-lived state (JSON → Lua → JSON; scalars must come back equal).
/// Any other input is a rule file: it is loaded with small budgets and its
/// hooks are called, so whatever a hostile rule returns — functions, cycles,
/// huge or non-UTF-8 strings, metatables — is read safely. Rule files share a
/// state, as a generation's rules do, renewed every 64 files to bound memory.
enum LuaBridgeTarget {
    static let limits = RuleLimits(callTimeout: .milliseconds(5), requestBudget: .milliseconds(50), memoryBytes: 2 * 1024 * 1024)
    static let echo = #"return { name = "echo", property = function(name, value) return value end, request = function(req) end }"#
    nonisolated(unsafe) static var echoState: LuaState?
    nonisolated(unsafe) static var ruleState: (state: LuaState, loaded: Int)?

    static func run(_ input: UnsafeBufferPointer<UInt8>) {
        if let json = try? JSONParser.parse(input) {
            roundTrip(json)
        } else {
            loadAndCall(String(decoding: input, as: UTF8.self))
        }
    }

    static func context(_ op: Op) -> HookContext {
        HookContext(callID: HookContext.nextCallID(), namespace: Namespace(workspace: "FY12345678", version: .live),
                    distinctID: "fuzz", op: op, requestID: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
                    receivedAt: 1_601_510_400_000, types: ["n": .number, "s": .string])
    }

    private static func roundTrip(_ json: JSON) {
        if echoState == nil {
            echoState = try! LuaState(limits: limits)
            _ = try! echoState!.load(file: "echo.lua", source: echo)
        }
        let state = echoState!
        let result = state.callProperty(0, name: "p", value: json, context: context(.setOnce))
        switch json {
        case .string, .integer, .decimal, .bool:
            // `.keep` is how the engine reports its own value handed back unchanged.
            require(result == .replace(json) || result == .keep, "\(json.text) came back from Lua as \(result)")
        case .null:
            require(result == .keep, "null came back from Lua as \(result)")
        case .array, .object, .outOfRangeNumber:
            // Objects, lists holding nulls or objects, and numbers past 64 bits have no exact Lua form.
            if case .reject = result { fatalError("an echo hook rejected \(json.text)") }
            if case .rename = result { fatalError("an echo hook renamed \(json.text)") }
        }
        if let object = json.objectValue {
            let properties = object.members.map { RuledProperty(name: $0.key, value: $0.value) }
            let result = state.callRequest(0, properties: properties, context: context(.set))
            // The echo rule's request hook changes nothing: the engine must see that.
            let tables = properties.contains {
                switch $0.value {
                case .array, .object: true
                default: false
                }
            }
            if !tables && Set(properties.map(\.name)).count == properties.count {
                require(result == .unchanged, "an echo request hook changed \(json.text): \(result)")
            }
        }
    }

    private static func loadAndCall(_ source: String) {
        if ruleState == nil || ruleState!.loaded == 64 { ruleState = (try! LuaState(limits: limits), 0) }
        let state = ruleState!.state
        guard (try? state.load(file: "fuzz.lua", source: source)) != nil else { return }
        let index = ruleState!.loaded
        ruleState!.loaded += 1
        let values: [JSON] = [.string("01/10/2020"), .integer(23), .decimal(1.5), .bool(true), .array([.string("a")]), .null]
        for (position, value) in values.enumerated() {
            _ = state.callProperty(index, name: "p\(position)", value: value, context: context(.setOnce))
        }
        _ = state.callRequest(index, properties: [RuledProperty(name: "plan", value: .string("pro"))], context: context(.set))
    }
}
