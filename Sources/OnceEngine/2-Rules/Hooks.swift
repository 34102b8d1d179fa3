import Synchronization

/// What a property hook asked for (SPEC §4's return protocol).
package enum PropertyHookResult: Equatable {
    /// Returned nothing: keep the value.
    case keep
    case replace(JSON)
    case reject(reason: String)
    case rename(name: String, value: JSON)
    /// Raised an error, ran out of budget, or returned something a hook may not.
    case failed(String)
}

/// What a request hook asked for.
package enum RequestHookResult: Equatable {
    /// The properties after the hook (it may have added, changed or removed some).
    case properties([String: JSON])
    case reject(reason: String)
    case failed(String)
}

/// What a hook call can see of its request: the fields of `ctx`.
package struct HookContext {
    /// Unique per (request, element, op): the state reuses its `ctx` table while this stays the same.
    var callID: Int
    var namespace: Namespace
    var distinctID: String
    var op: Op
    var requestID: String
    var receivedAt: String
    /// What `ctx.type_of` answers from.
    var types: [String: PropertyType]

    package init(callID: Int, namespace: Namespace, distinctID: String, op: Op, requestID: String,
                 receivedAt: String, types: [String: PropertyType]) {
        self.callID = callID
        self.namespace = namespace
        self.distinctID = distinctID
        self.op = op
        self.requestID = requestID
        self.receivedAt = receivedAt
        self.types = types
    }

    private static let callIDs = Atomic<Int>(0)

    package static func nextCallID() -> Int {
        callIDs.wrappingAdd(1, ordering: .relaxed).newValue
    }
}
