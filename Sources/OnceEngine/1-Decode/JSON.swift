/// A parsed JSON document.
///
/// Numbers keep the form they were written in: `23000` is an ``integer``,
/// `20.34` and `1e3` are ``decimal``s, and `true` is never a number. A
/// number that cannot be held exactly (an integer beyond 64 bits, a decimal
/// that overflows to infinity) is kept as ``outOfRangeNumber`` with its text,
/// so validation can name it instead of silently rounding it.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case decimal(Double)
    case outOfRangeNumber(String)
    case string(String)
    case array([JSON])
    case object(JSONObject)
}

/// A JSON object with its members in the order they were written.
///
/// Order matters to users: outcomes come back in the order properties were
/// sent. Objects here are small (a request's properties), so lookup is linear.
public struct JSONObject: Sendable, Equatable {
    /// Members in written order; keys are unique (the parser refuses duplicates).
    public var members: [Member]

    /// One `"key": value` pair.
    public struct Member: Sendable, Equatable {
        /// The key.
        public var key: String
        /// The value.
        public var value: JSON
        /// Creates a value from its parts.
        public init(_ key: String, _ value: JSON) {
            self.key = key
            self.value = value
        }
    }

    /// Creates a value from its parts.
    public init(_ members: [Member] = []) {
        self.members = members
    }

    /// The value under `key`, if any.
    public subscript(key: String) -> JSON? {
        members.first { $0.key == key }?.value
    }

    /// The keys in written order.
    public var keys: [String] { members.map(\.key) }
}

extension JSON {
    /// The object, if this is one.
    public var objectValue: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }

    /// The string, if this is one.
    public var stringValue: String? {
        if case .string(let string) = self { return string }
        return nil
    }

    /// A short name for the JSON kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .decimal, .outOfRangeNumber: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
