import Foundation

/// The one JSON form of outcomes, used by the store, the HTTP API and `apply`.
extension OpResult {
    /// `{"distinct_id", "op", "properties": {name: {"outcome", "rule"?, "reason"?}}}`: the form of SPEC §3.
    public var json: JSON {
        var properties: [JSONObject.Member] = []
        for result in self.properties {
            var fields: [JSONObject.Member] = [.init("outcome", .string(result.outcome.rawValue))]
            if let rule = result.rule { fields.append(.init("rule", .string(rule))) }
            if let reason = result.reason { fields.append(.init("reason", .string(reason))) }
            properties.append(.init(result.name, .object(JSONObject(fields))))
        }
        return .object(JSONObject([
            .init("distinct_id", distinctID.map(JSON.string) ?? .null),
            .init("op", .string(op.rawValue)),
            .init("properties", .object(JSONObject(properties))),
        ]))
    }

    /// Reads back the form ``json`` writes.
    public init(json: JSON) throws(DecodeError) {
        // A null distinct_id: the profile was erased (SPEC §9).
        let distinctID: String?
        switch json.objectValue?["distinct_id"] {
        case .string(let text)?: distinctID = text
        case .null?: distinctID = nil
        default: throw DecodeError("malformed stored op result")
        }
        guard let object = json.objectValue,
              let op = object["op"]?.stringValue.flatMap(Op.init(rawValue:)),
              let properties = object["properties"]?.objectValue else {
            throw DecodeError("malformed stored op result")
        }
        var results: [PropertyResult] = []
        for member in properties.members {
            guard let fields = member.value.objectValue,
                  let outcome = fields["outcome"]?.stringValue.flatMap(Outcome.init(rawValue:)) else {
                throw DecodeError("malformed stored property result")
            }
            results.append(PropertyResult(name: member.key, outcome: outcome,
                                          reason: fields["reason"]?.stringValue, rule: fields["rule"]?.stringValue))
        }
        self.init(distinctID: distinctID, op: op, properties: results)
    }
}

extension LifecycleResult {
    /// `{"distinct_id": null, "op": "delete", "outcome"}` or `{"op": "drop_property", "property", "outcome"}` (SPEC §9).
    public var json: JSON {
        switch kind {
        case .delete:
            .object(JSONObject([.init("distinct_id", .null), .init("op", .string(kind.rawValue)), .init("outcome", .string(outcome))]))
        case .dropProperty:
            .object(JSONObject([.init("op", .string(kind.rawValue)), .init("property", .string(property ?? "")),
                                .init("outcome", .string(outcome))]))
        }
    }

    /// Reads back the form ``json`` writes, or nil when `json` is an op's entry.
    init?(json: JSON) throws(DecodeError) {
        guard let object = json.objectValue, let kind = object["op"]?.stringValue.flatMap(Kind.init(rawValue:)) else { return nil }
        guard let outcome = object["outcome"]?.stringValue else { throw DecodeError("malformed stored lifecycle entry") }
        self.init(kind: kind, property: object["property"]?.stringValue, changed: outcome != "unchanged")
    }
}

extension RequestRecord {
    /// `{"request_id", "status": "processed", "results": [...]}` (SPEC §3).
    public var json: JSON {
        .object(JSONObject([
            .init("request_id", .string(id.lowercaseString)),
            .init("status", .string("processed")),
            .init("received_at", .string(ISODate.utcText(milliseconds: receivedAt.epochMilliseconds))),
            .init("results", resultsJSON),
        ]))
    }

    /// The `results` array: a lifecycle action's one entry, or one entry per op.
    package var resultsJSON: JSON {
        .array(lifecycle.map { [$0.json] } ?? results.map(\.json))
    }
}

extension RequestRecord {
    /// A record as stores keep it: the time in epoch milliseconds and the
    /// `results` array in the JSON form of ``OpResult/json``.
    package init(id: UUID, receivedAtMilliseconds: Int64, storedResults: String) throws {
        guard case .array(let entries)? = try? JSONParser.parse(storedResults) else {
            throw StoreError.corrupt("request record \(id) is not a JSON array")
        }
        if entries.count == 1, let lifecycle = try LifecycleResult(json: entries[0]) {
            self.init(id: id, receivedAt: Date(epochMilliseconds: receivedAtMilliseconds), results: [], lifecycle: lifecycle)
            return
        }
        self.init(id: id, receivedAt: Date(epochMilliseconds: receivedAtMilliseconds),
                  results: try entries.map { try OpResult(json: $0) })
    }
}

extension PropertyType {
    /// A type name read back from a store.
    package init(stored name: String) throws {
        guard let type = PropertyType(rawValue: name) else { throw StoreError.corrupt("unknown type \(name)") }
        self = type
    }
}

extension Date {
    package var epochMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    package init(epochMilliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(epochMilliseconds) / 1000)
    }
}
