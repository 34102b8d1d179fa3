/// A request record's `results` as storage v2 keeps them: compact JSON that
/// points at profiles by id, rendered to SPEC §3's form when read.
///
/// `[[PROFILE, "op", [["name", CODE], ["name", CODE, "reason"], ["name", CODE, null, "rule"]]], …]`
///
/// PROFILE is the profile's integer id, so a record never repeats a
/// distinct_id: erasing a profile leaves the id dangling, with nothing to
/// rewrite. (An `unset` on a profile that did not exist has no id; its entry
/// holds the distinct_id as a string.) CODE indexes ``outcomes``.
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
            profile(result.distinctID).write(to: &output)
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

    /// `distinctID` resolves a profile id (nil when no such profile exists).
    static func decode(_ text: String, distinctID: (Int64) throws -> String?) throws -> [OpResult] {
        guard case .array(let entries)? = try? JSONParser.parse(text) else { throw StoreError.corrupt("a request record is not a JSON array") }
        return try entries.map { entry in
            guard case .array(let parts) = entry, parts.count == 3, let opName = parts[1].stringValue, let op = Op(rawValue: opName),
                  case .array(let properties) = parts[2] else { throw StoreError.corrupt("malformed request record entry") }
            let profile: String
            switch parts[0] {
            case .integer(let id):
                guard let found = try distinctID(id) else { throw StoreError.corrupt("a request record names profile \(id), which is gone") }
                profile = found
            case .string(let inline):
                profile = inline
            default:
                throw StoreError.corrupt("malformed request record profile")
            }
            return OpResult(distinctID: profile, op: op, properties: try properties.map(decodeProperty))
        }
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
