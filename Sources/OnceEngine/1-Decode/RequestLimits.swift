/// How much one request may carry, refused at decode with a `400` (an error
/// outcome in `apply`) before any rule runs: a request's work is bounded by
/// these, not by what its rules or its values would make of it.
public struct RequestLimits: Sendable, Equatable {
    /// Properties (or `$unset` names) under one op key.
    public var propertiesPerOp: Int
    /// Properties over every element and op key of one request (a batch body, a JSONL line).
    public var propertiesPerRequest: Int
    /// Elements of one batch body (SPEC §3).
    public static let maxBatchElements = 1000

    /// The defaults: 1,000 properties per op key, 10,000 per request.
    public init(propertiesPerOp: Int = 1000, propertiesPerRequest: Int = 10_000) {
        self.propertiesPerOp = propertiesPerOp
        self.propertiesPerRequest = propertiesPerRequest
    }

    /// Refuses `elements` when together they carry more than ``propertiesPerRequest`` properties.
    public func check(_ elements: [Element]) throws(DecodeError) {
        let count = elements.reduce(0) { total, element in element.ops.reduce(total) { $0 + $1.properties.members.count } }
        guard count <= propertiesPerRequest else {
            throw DecodeError("the request carries \(count) properties; at most \(propertiesPerRequest) are allowed per request")
        }
    }

    func check(_ op: Op, count: Int) throws(DecodeError) {
        guard count <= propertiesPerOp else {
            throw DecodeError("\(op.bodyKey) carries \(count) properties; at most \(propertiesPerOp) are allowed per op key")
        }
    }
}
