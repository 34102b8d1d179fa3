/// A request body or line that cannot be processed at all (HTTP 400, or an
/// error outcome for a JSONL line). Nothing of it is written.
public struct DecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Shown to the caller in the 400 / error outcome.
    public var message: String
    /// Creates a value from its parts.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// Turns JSON bodies into ``Element``s: the shape checks of SPEC §2–§5.
///
/// Shape errors (a missing `distinct_id`, `$once` that is not an object) fail
/// the whole body; value errors (a `null`, a 300-character string) do not —
/// they become per-property outcomes later, in validation.
public enum RequestDecoder {
    /// In Unicode code points.
    public static let maxDistinctIDLength = 255

    /// One element of a batch body (SPEC §3): what to apply of it, and its `batch`
    /// entry. A bad element or op key is reported there; it never fails the batch.
    package static func batchElement(_ item: JSON, limits: RequestLimits = RequestLimits()) -> (Element?, JSON) {
        func failed(_ message: String) -> (Element?, JSON) {
            (nil, .object(JSONObject([.init("error", .string(message))])))
        }
        guard let object = item.objectValue else { return failed("each batch element must be an object") }
        let distinctID: String
        do {
            distinctID = try RequestDecoder.distinctID(in: object)
        } catch {
            return failed(error.message)
        }
        guard let action = object["action"]?.objectValue, !action.members.isEmpty else {
            return failed("action must be an object holding one or more op keys")
        }
        var ops: [OpInput] = []
        var entry: [JSONObject.Member] = []
        for member in action.members {
            guard let op = Op(bodyKey: member.key) else {
                entry.append(.init(member.key, .string("unknown op key")))
                continue
            }
            do {
                ops.append(try RequestDecoder.opInput(op, member.value, limits: limits))
                entry.append(.init(member.key, .string("ok")))
            } catch {
                entry.append(.init(member.key, .string(error.message)))
            }
        }
        return (ops.isEmpty ? nil : Element(distinctID: distinctID, ops: ops), .object(JSONObject(entry)))
    }

    /// The body of a single-op endpoint: `{"<op key>": ..., "distinct_id": "..."}`.
    /// Other `$` keys are refused so a misrouted call fails loudly; other keys are ignored.
    public static func element(body: JSON, op: Op, limits: RequestLimits = RequestLimits()) throws(DecodeError) -> Element {
        guard let object = body.objectValue else { throw DecodeError("the body must be a JSON object") }
        let distinctID = try distinctID(in: object)
        for key in object.keys where key.hasPrefix("$") && key != op.bodyKey {
            throw DecodeError("unexpected key \"\(key.prefix(64))\": this endpoint takes \(op.bodyKey)")
        }
        guard let value = object[op.bodyKey] else { throw DecodeError("missing \(op.bodyKey)") }
        let element = Element(distinctID: distinctID, ops: [try opInput(op, value, limits: limits)])
        try limits.check([element])
        return element
    }

    /// An element that may carry several op keys (a batch action, a JSONL line).
    public static func element(distinctID: String, opsIn object: JSONObject,
                               limits: RequestLimits = RequestLimits()) throws(DecodeError) -> Element {
        var ops: [OpInput] = []
        for member in object.members where member.key.hasPrefix("$") {
            guard let op = Op(bodyKey: member.key) else {
                throw DecodeError("unknown op key \"\(member.key.prefix(64))\"")
            }
            ops.append(try opInput(op, member.value, limits: limits))
        }
        guard !ops.isEmpty else { throw DecodeError("no op key ($once, $set, $add, $append, $remove, $unset)") }
        let element = Element(distinctID: distinctID, ops: ops)
        try limits.check([element])
        return element
    }

    /// Checks the shape one op key's value must have.
    public static func opInput(_ op: Op, _ value: JSON, limits: RequestLimits = RequestLimits()) throws(DecodeError) -> OpInput {
        if op == .unset {
            guard case .array(let names) = value else { throw DecodeError("$unset must be an array of property names") }
            try limits.check(op, count: names.count)
            var strings: [String] = []
            for name in names {
                guard let string = name.stringValue else { throw DecodeError("$unset must be an array of property names") }
                strings.append(string)
            }
            return OpInput(unsetting: strings)
        }
        guard let properties = value.objectValue else {
            throw DecodeError("\(op.bodyKey) must be an object of property names to values, not \(value.kindName)")
        }
        try limits.check(op, count: properties.members.count)
        return OpInput(op: op, properties: properties)
    }

    /// The `distinct_id` of a body: a non-empty string of at most 255 characters, without U+0000.
    public static func distinctID(in object: JSONObject) throws(DecodeError) -> String {
        guard let value = object["distinct_id"] else { throw DecodeError("missing distinct_id") }
        guard let id = value.stringValue else { throw DecodeError("distinct_id must be a string") }
        return try distinctID(id)
    }

    /// `id` if it can name a profile: non-empty, at most 255 characters, without U+0000.
    public static func distinctID(_ id: String) throws(DecodeError) -> String {
        guard !id.isEmpty else { throw DecodeError("distinct_id must not be empty") }
        guard !Validator.holdsNUL(id) else { throw DecodeError("distinct_id must not contain U+0000") }
        guard !Validator.exceedsLength(id, maxDistinctIDLength) else {
            throw DecodeError("distinct_id is at most \(maxDistinctIDLength) characters")
        }
        return id
    }

    /// The namespace of a path or line: a printable workspace id without `/`, and `live` or `test`.
    public static func namespace(workspace: String, version: String) throws(DecodeError) -> Namespace {
        guard let version = Version(rawValue: version) else { throw DecodeError("version must be \"live\" or \"test\"") }
        guard !workspace.isEmpty, workspace.utf8.count <= 64,
              workspace.utf8.allSatisfy({ $0 >= 0x21 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else {
            throw DecodeError("invalid workspace id")
        }
        return Namespace(workspace: workspace, version: version)
    }
}
