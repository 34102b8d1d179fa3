import Foundation

/// `live` or `test`: with a workspace, one namespace (SPEC §1).
public enum Version: String, Sendable, Hashable, CaseIterable {
    case live, test
}

/// Everything — profiles, types, request records — lives inside one namespace.
public struct Namespace: Sendable, Hashable, CustomStringConvertible {
    /// The workspace id, e.g. `FY12345678`.
    public var workspace: String
    /// `live` or `test`.
    public var version: Version

    /// Creates a value from its parts.
    public init(workspace: String, version: Version) {
        self.workspace = workspace
        self.version = version
    }

    /// `WSID/version`.
    public var description: String { "\(workspace)/\(version.rawValue)" }
}

/// The six operations of SPEC §2, declared in the order a multi-op element applies them.
public enum Op: String, Sendable, Hashable, CaseIterable, Comparable {
    case setOnce = "set_once"
    case set
    case add
    case append
    case remove
    case unset

    /// The body key that carries this op (`$once`, `$set`, …).
    public var bodyKey: String {
        switch self {
        case .setOnce: "$once"
        case .set: "$set"
        case .add: "$add"
        case .append: "$append"
        case .remove: "$remove"
        case .unset: "$unset"
        }
    }

    /// The op a body key such as `$once` names.
    public init?(bodyKey: String) {
        guard let op = Op.allCases.first(where: { $0.bodyKey == bodyKey }) else { return nil }
        self = op
    }

    /// SPEC §2's application order.
    public static func < (lhs: Op, rhs: Op) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// One op key of one element: the properties it names, in the order sent.
/// For `unset` the values are `null` and only the names matter.
public struct OpInput: Sendable, Equatable {
    /// Which op.
    public var op: Op
    /// Names to values as sent.
    public var properties: JSONObject

    /// Creates a value from its parts.
    public init(op: Op, properties: JSONObject) {
        self.op = op
        self.properties = properties
    }

    /// The `$unset` form: names only, each once (a name repeated in the array
    /// is one property to delete, and one entry in the request record).
    public init(unsetting names: [String]) {
        self.op = .unset
        var seen = Set<String>()
        self.properties = JSONObject(names.filter { seen.insert($0).inserted }.map { .init($0, .null) })
    }
}

/// One profile's share of a request: a single-op call has one element, a batch many.
public struct Element: Sendable, Equatable {
    /// The profile written.
    public var distinctID: String
    /// Kept sorted in op order (SPEC §2), whatever order the keys arrived in.
    public private(set) var ops: [OpInput]

    /// Creates a value from its parts.
    public init(distinctID: String, ops: [OpInput]) {
        self.distinctID = distinctID
        self.ops = ops.sorted { $0.op < $1.op }
    }
}

/// A write request: applied atomically, recorded under its id.
public struct WriteRequest: Sendable {
    /// Returned to the caller; keys the request record.
    public var id: UUID
    /// Where every element is written.
    public var namespace: Namespace
    /// `ctx.received_at`, and the time stamped on profiles.
    public var receivedAt: Date
    /// One per profile; a single-op call has one.
    public var elements: [Element]

    /// Creates a value from its parts.
    public init(id: UUID = .timeOrdered(), namespace: Namespace, receivedAt: Date = Date(), elements: [Element]) {
        self.id = id
        self.namespace = namespace
        self.receivedAt = receivedAt
        self.elements = elements
    }
}

extension WriteRequest {
    /// (distinct_id, op) of each op of each element, in order: one request record entry each.
    var targets: [(distinctID: String, op: Op)] {
        elements.flatMap { element in element.ops.map { (element.distinctID, $0.op) } }
    }
}
