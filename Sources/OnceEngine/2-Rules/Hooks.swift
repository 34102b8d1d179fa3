import Foundation
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
    /// The hook left `req.properties` as it was.
    case unchanged
    /// The properties after the hook (it may have added, changed or removed some).
    case properties([String: JSON])
    case reject(reason: String)
    case failed(String)
}

/// What a hook call can see of its request: the fields of `ctx`.
package struct HookContext {
    /// Unique per request; with `opIndex` it tells a state when the fields of `ctx`
    /// already made are stale.
    var callID: Int
    /// Which op of the request this is.
    var opIndex = 0
    var namespace: Namespace
    var distinctID: String
    var op: Op
    /// Formatted only when a hook reads `ctx.request_id`.
    var requestID: UUID
    /// Milliseconds since the epoch, formatted (ISO 8601 UTC) only when a hook reads `ctx.received_at`.
    var receivedAt: Int64
    /// What `ctx.type_of` answers from.
    var types: [String: PropertyType]

    package init(callID: Int, opIndex: Int = 0, namespace: Namespace, distinctID: String, op: Op, requestID: UUID,
                 receivedAt: Int64, types: [String: PropertyType]) {
        self.callID = callID
        self.opIndex = opIndex
        self.namespace = namespace
        self.distinctID = distinctID
        self.op = op
        self.requestID = requestID
        self.receivedAt = receivedAt
        self.types = types
    }

    /// The fields of `ctx` made on first read (`type_of` is always there).
    static let fields = ["workspace", "version", "distinct_id", "op", "request_id", "received_at"]

    /// The text of `ctx.<field>`, or nil for a field `ctx` does not have.
    func text(of field: String) -> String? {
        switch field {
        case "workspace": namespace.workspace
        case "version": namespace.version.rawValue
        case "distinct_id": distinctID
        case "op": op.rawValue
        case "request_id": requestID.lowercaseString
        case "received_at": ISODate.utcText(milliseconds: receivedAt)
        default: nil
        }
    }

    private static let callIDs = Atomic<Int>(0)

    package static func nextCallID() -> Int {
        callIDs.wrappingAdd(1, ordering: .relaxed).newValue
    }
}
