/// A request record's `results` as storage v2 keeps them: compact JSON that
/// points at profiles by id, rendered to SPEC §3's form when read.
///
/// `[[PROFILE, "op", [["name", CODE], ["name", CODE, "reason"], ["name", CODE, null, "rule"]]], …]`
///
/// PROFILE is the profile's integer id, so a record never repeats a
/// distinct_id: erasing a profile leaves the id dangling, with nothing to
/// rewrite, and it reads as `null`. (An `unset` on a profile that did not
/// exist has no id; its entry holds the distinct_id as a string, listed in
/// `record_mentions` so an erasure finds it; erased, it is `null`.) CODE
/// indexes ``outcomes``. A lifecycle action's record is its one entry,
/// `[[null, "delete", "deleted"]]` or `[[null, "drop_property", "dropped", "name"]]`.
enum StoredRecord {
    /// Outcome codes. The order is the file format: new outcomes go at the end.
    static let outcomes: [Outcome] = [.set, .unchanged, .ignoredTypeMismatch, .ignoredInvalid, .rejectedByRule, .addedByRule, .unset]

    /// The stored text, as UTF-8, written straight to bytes (it is built on
    /// the commit thread). `profile` gives an entry's PROFILE from its distinct_id.
    static func encode(_ results: [OpResult], profile: (String) -> JSON) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(64 + 24 * results.reduce(0) { $0 + $1.properties.count })
        output.append(UInt8(ascii: "["))
        for (index, result) in results.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            output.append(UInt8(ascii: "["))
            (result.distinctID.map(profile) ?? .null).write(to: &output)
            output.append(contentsOf: #",""#.utf8)
            output.append(contentsOf: result.op.rawValue.utf8)
            output.append(contentsOf: #"",["#.utf8)
            for (index, property) in result.properties.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                encode(property, to: &output)
            }
            output.append(contentsOf: "]]".utf8)
        }
        output.append(UInt8(ascii: "]"))
        return output
    }

    private static func encode(_ result: PropertyResult, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "["))
        JSON.writeString(result.name, to: &output)
        output.append(UInt8(ascii: ","))
        // One digit: seven outcomes, found by a scan of seven (this runs per property on the commit thread).
        output.append(UInt8(ascii: "0") + UInt8(outcomes.firstIndex(of: result.outcome)!))
        if let rule = result.rule {
            output.append(UInt8(ascii: ","))
            (result.reason.map(JSON.string) ?? .null).write(to: &output)
            output.append(UInt8(ascii: ","))
            JSON.writeString(rule, to: &output)
        } else if let reason = result.reason {
            output.append(UInt8(ascii: ","))
            JSON.writeString(reason, to: &output)
        }
        output.append(UInt8(ascii: "]"))
    }

    static func encode(_ lifecycle: LifecycleResult) -> [UInt8] {
        var entry: [JSON] = [.null, .string(lifecycle.kind.rawValue), .string(lifecycle.outcome)]
        if let property = lifecycle.property { entry.append(.string(property)) }
        return Array(JSON.array([.array(entry)]).text.utf8)
    }

    /// A record's results: one entry per op, or a lifecycle action's one entry.
    enum Decoded {
        case ops([OpResult])
        case lifecycle(LifecycleResult)
    }

    /// `distinctID` resolves a profile id (nil when the profile was erased).
    static func decode(_ text: String, distinctID: (Int64) throws -> String?) throws -> Decoded {
        guard case .array(let entries)? = try? JSONParser.parse(text) else { throw StoreError.corrupt("a request record is not a JSON array") }
        if entries.count == 1, case .array(let parts) = entries[0], parts.count >= 3,
           let kind = parts[1].stringValue.flatMap(LifecycleResult.Kind.init(rawValue:)) {
            return .lifecycle(LifecycleResult(kind: kind, property: parts.count > 3 ? parts[3].stringValue : nil,
                                              changed: parts[2].stringValue != "unchanged"))
        }
        return .ops(try entries.map { entry in
            guard case .array(let parts) = entry, parts.count == 3, let opName = parts[1].stringValue, let op = Op(rawValue: opName),
                  case .array(let properties) = parts[2] else { throw StoreError.corrupt("malformed request record entry") }
            let profile: String?
            switch parts[0] {
            case .integer(let id): profile = try distinctID(id)
            case .string(let inline): profile = inline
            case .null: profile = nil
            default: throw StoreError.corrupt("malformed request record profile")
            }
            return OpResult(distinctID: profile, op: op, properties: try properties.map(decodeProperty))
        })
    }

    /// `text` with every inline `distinctID` replaced by `null`: what an erasure leaves of a record that named it.
    static func erasing(_ distinctID: String, from text: String) throws -> [UInt8] {
        guard case .array(let entries)? = try? JSONParser.parse(text) else { throw StoreError.corrupt("a request record is not a JSON array") }
        let erased = entries.map { entry -> JSON in
            guard case .array(var parts) = entry, parts.first == .string(distinctID) else { return entry }
            parts[0] = .null
            return .array(parts)
        }
        return Array(JSON.array(erased).text.utf8)
    }

    private static func decodeProperty(_ json: JSON) throws -> PropertyResult {
        guard case .array(let fields) = json, (2...4).contains(fields.count), let name = fields[0].stringValue,
              case .integer(let code) = fields[1], outcomes.indices.contains(Int(code)) else {
            throw StoreError.corrupt("malformed property result in a request record")
        }
        return PropertyResult(name: name, outcome: outcomes[Int(code)],
                              reason: fields.count > 2 ? fields[2].stringValue : nil,
                              rule: fields.count > 3 ? fields[3].stringValue : nil)
    }
}
