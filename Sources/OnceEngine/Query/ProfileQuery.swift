import Foundation

/// One page of a cohort query (SPEC §8), as a store runs it.
public struct ProfileQuery: Sendable {
    public var namespace: Namespace
    public var filter: Filter
    /// Most profiles returned.
    public var limit: Int
    /// Only profiles whose distinct_id sorts after this one, in byte order (the cursor's).
    public var after: String?
    /// Which properties each profile shows; nil shows all of them.
    public var properties: Set<String>?

    public init(namespace: Namespace, filter: Filter, limit: Int, after: String? = nil, properties: Set<String>? = nil) {
        self.namespace = namespace
        self.filter = filter
        self.limit = limit
        self.after = after
        self.properties = properties
    }

    /// How many profiles a store reads for the page: one more than ``limit``
    /// tells whether another page follows (``QueryPage/init(fetched:limit:)``).
    public var fetchLimit: Int { limit + 1 }

    public static let defaultLimit = 100
    public static let maxLimit = 1000
    /// The members a query body may have.
    private static let keys: Set<String> = ["where", "limit", "cursor", "properties"]

    /// The query a `POST …/profiles/query` body asks for: `where`, `limit`,
    /// `cursor` and `properties`, each checked (``FilterDecoder`` for `where`).
    public static func decode(_ body: JSON, in namespace: Namespace, types: [String: PropertyType], now: Date) throws(DecodeError) -> ProfileQuery {
        guard case .object(let object) = body else { throw DecodeError("the body must be a JSON object") }
        if let key = object.members.first(where: { !Self.keys.contains($0.key) })?.key {
            throw DecodeError("unknown key \"\(key.prefix(64))\"; a query takes where, limit, cursor and properties")
        }
        var decoder = FilterDecoder(types: types, now: now.epochMicroseconds)
        let filter = try decoder.filter(object["where"])
        var limit = defaultLimit
        switch object["limit"] {
        case nil: break
        case .integer(let value)? where (1...Int64(maxLimit)).contains(value): limit = Int(value)
        // JSON Schema's integer: 100.0 is one.
        case .decimal(let value)? where value.rounded() == value && (1...Double(maxLimit)).contains(value): limit = Int(value)
        default: throw DecodeError("limit must be an integer from 1 to \(maxLimit)")
        }
        var after: String?
        switch object["cursor"] {
        case nil, .null?: break
        case .string(let cursor)?: after = try QueryCursor.distinctID(in: cursor)
        default: throw DecodeError("cursor must be a next_cursor this API returned, or null")
        }
        var properties: Set<String>?
        switch object["properties"] {
        case nil, .null?: break
        case .array(let items)? where items.count <= 1000:
            properties = []
            for item in items {
                guard let name = item.stringValue else { throw DecodeError("properties must be an array of property names") }
                properties?.insert(name)
            }
        default: throw DecodeError("properties must be an array of at most 1000 property names")
        }
        return ProfileQuery(namespace: namespace, filter: filter, limit: limit, after: after, properties: properties)
    }

    /// The filter of a `POST …/profiles/count` body: `{"where": FILTER}`.
    public static func decodeCount(_ body: JSON, types: [String: PropertyType], now: Date) throws(DecodeError) -> Filter {
        guard case .object(let object) = body else { throw DecodeError("the body must be a JSON object") }
        if let key = object.members.first(where: { $0.key != "where" })?.key {
            throw DecodeError("unknown key \"\(key.prefix(64))\"; a count takes where")
        }
        var decoder = FilterDecoder(types: types, now: now.epochMicroseconds)
        return try decoder.filter(object["where"])
    }
}

/// A query or count body as sent, which the store checks against the
/// namespace's registered types as its own read transaction sees them: one
/// read instead of two (a type read cost as much as a selective count), and
/// the filter meets exactly the types it was checked against.
public struct QueryBody: Sendable {
    public var body: JSON
    /// The time `within_days` counts back from.
    public var now: Date

    public init(_ body: JSON, now: Date = Date()) {
        self.body = body
        self.now = now
    }

    /// The page a query body asks for, checked against `types`.
    public func query(in namespace: Namespace, types: [String: PropertyType]) throws(DecodeError) -> ProfileQuery {
        try ProfileQuery.decode(body, in: namespace, types: types, now: now)
    }

    /// The filter of a count body, checked against `types`.
    public func countFilter(types: [String: PropertyType]) throws(DecodeError) -> Filter {
        try ProfileQuery.decodeCount(body, types: types, now: now)
    }
}

/// A page of profiles and where the next one starts.
public struct QueryPage: Sendable {
    public var profiles: [Profile]
    /// Nil on the last page.
    public var nextCursor: String?

    /// The page of `limit` profiles from a store's `fetched` (up to
    /// ``ProfileQuery/fetchLimit``): one more than the page says another follows.
    public init(fetched: [Profile], limit: Int) {
        guard fetched.count > limit else {
            self.init(profiles: fetched, nextCursor: nil)
            return
        }
        let profiles = Array(fetched.prefix(limit))
        self.init(profiles: profiles, nextCursor: QueryCursor.cursor(after: profiles[limit - 1].distinctID))
    }

    public init(profiles: [Profile], nextCursor: String?) {
        self.profiles = profiles
        self.nextCursor = nextCursor
    }
}

/// The opaque `next_cursor`: the last distinct_id of a page, base64url-encoded,
/// so that a client treats it as a token and any distinct_id survives a JSON round trip.
public enum QueryCursor {
    public static func cursor(after distinctID: String) -> String {
        Data(distinctID.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func distinctID(in cursor: String) throws(DecodeError) -> String {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard cursor.utf8.count <= 1400, let data = Data(base64Encoded: base64),
              let distinctID = String(data: data, encoding: .utf8), !distinctID.isEmpty else {
            throw DecodeError("cursor is not a next_cursor this API returned")
        }
        return distinctID
    }
}

extension Date {
    /// Microseconds since 1970, as dates' instants count.
    var epochMicroseconds: Int64 { Int64((timeIntervalSince1970 * 1_000_000).rounded(.down)) }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating).
    package var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? (seconds < 0 ? .min : .max) : whole &+ attoseconds / 1_000_000_000
    }
}
