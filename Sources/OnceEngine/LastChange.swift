import Foundation

/// The request that last changed a stored property: SPEC §3's
/// `?provenance=true` and §9's provenance.
///
/// Stores keep only the request id beside each value; the op, the rule and
/// the time come from that request's record. Once retention has deleted the
/// record, the time still comes from the id (request ids are time-ordered),
/// but the op and rule are gone with it.
public struct LastChange: Sendable, Equatable {
    public var requestID: UUID
    /// The op that changed it; nil once the record has expired.
    public var op: Op?
    /// When that request was received.
    public var at: Date
    /// The rule that renamed or added the property, if one did.
    public var rule: String?

    /// `{"request_id", "op"?, "at", "rule"?}`.
    public var json: JSON {
        var members = [JSONObject.Member("request_id", .string(requestID.lowercaseString))]
        if let op { members.append(.init("op", .string(op.rawValue))) }
        members.append(.init("at", .string(ISODate.utcText(milliseconds: at.epochMilliseconds))))
        if let rule { members.append(.init("rule", .string(rule))) }
        return .object(JSONObject(members))
    }

    /// Each property of `profile` whose last change its store knows, by name;
    /// `records` reads a record (once per request, however many properties it changed).
    static func resolve(_ profile: Profile, records: (UUID) async throws -> RequestRecord?) async throws -> [(name: String, change: LastChange)] {
        var read: [UUID: RequestRecord?] = [:]
        var changes: [(name: String, change: LastChange)] = []
        for (name, _) in profile.properties {
            guard let id = profile.lastChangedBy[name] else { continue }
            if read[id] == nil { read[id] = .some(try await records(id)) }
            guard let record = read[id]!, let change = change(of: name, on: profile.distinctID, in: record) else {
                // Expired (or a record that does not say): the id still tells when.
                changes.append((name, LastChange(requestID: id, at: id.timeOrderedDate ?? profile.updatedAt)))
                continue
            }
            changes.append((name, change))
        }
        return changes
    }

    /// The last op entry of `record` that changed `name` on the profile.
    private static func change(of name: String, on distinctID: String, in record: RequestRecord) -> LastChange? {
        for entry in record.results.reversed() where entry.distinctID == distinctID {
            guard let result = entry.properties.last(where: { $0.name == name && [.set, .addedByRule].contains($0.outcome) }) else { continue }
            // A stored result names a rule only when the rule renamed or added the property.
            return LastChange(requestID: record.id, op: entry.op, at: record.receivedAt, rule: result.rule)
        }
        return nil
    }
}

extension UUID {
    /// When a time-ordered (version 7) id was made; nil for any other id.
    var timeOrderedDate: Date? {
        let bytes = uuid
        guard bytes.6 >> 4 == 7 else { return nil }
        let milliseconds = [bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5].reduce(Int64(0)) { $0 << 8 | Int64($1) }
        return Date(epochMilliseconds: milliseconds)
    }
}
