import OnceEngine

import Foundation

/// The pure decoders: JSON bodies, apply lines and dates.
enum DecoderTargets {
    /// Types for the cohort-query bodies among the inputs: one name of each type.
    static let queryTypes: [String: PropertyType] = ["s": .string, "n": .number, "b": .boolean, "d": .date, "l": .list, "plan": .string]
    static let queryProfile: [String: PropertyValue] = [
        "s": .string("pro"), "n": .integer(3), "b": .boolean(true),
        "d": .date(ISODate(parsing: "2024-01-01")!), "l": .list([.string("a"), .decimal(1.5)]),
    ]

    static func jsonBody(_ input: UnsafeBufferPointer<UInt8>) {
        guard let json = try? JSONParser.parse(input) else { return }
        let text = json.text
        guard let reparsed = try? JSONParser.parse(text) else { fatalError("printed JSON does not parse: \(text)") }
        require(reparsed == json, "printed JSON parses to another value: \(text)")
        for op in Op.allCases {
            guard let element = try? RequestDecoder.element(body: json, op: op) else { continue }
            checkValues(of: element)
        }
        // A query body (SPEC §8): decoded or refused with a message, and what decodes evaluates.
        if let query = try? ProfileQuery.decode(json, in: Namespace(workspace: "FY12345678", version: .live),
                                                types: queryTypes, now: Date(timeIntervalSince1970: 1_700_000_000)) {
            require((1...ProfileQuery.maxLimit).contains(query.limit), "limit \(query.limit) accepted")
            _ = FilterEvaluator.matches(query.filter, queryProfile)
            _ = FilterEvaluator.matches(query.filter, [:])
        }
        if case .array(let items)? = json.objectValue?["batch"] {
            for item in items {
                let (element, entry) = RequestDecoder.batchElement(item)
                require(entry.objectValue != nil, "a batch entry is not an object")
                if let element { checkValues(of: element) }
            }
        }
    }

    static func jsonLine(_ input: UnsafeBufferPointer<UInt8>) {
        guard let request = try? JSONLine.request(from: input) else { return }
        require(request.elements.count == 1, "a line decoded into \(request.elements.count) elements")
        for element in request.elements { checkValues(of: element) }
    }

    /// Validation runs on every decoded value next; it must answer for any of them.
    private static func checkValues(of element: Element) {
        let length = element.distinctID.unicodeScalars.count
        require(length > 0 && length <= RequestDecoder.maxDistinctIDLength, "distinct_id of \(length) scalars accepted")
        for op in element.ops {
            for member in op.properties.members {
                _ = Validator.checkName(member.key)
                _ = Validator.value(member.value)
                _ = Validator.number(member.value)
                _ = Validator.listElements(member.value)
            }
        }
    }

    static let firstUTCMillisecond: Int64 = -62_135_596_800_000  // 0001-01-01T00:00:00Z
    static let endUTCMillisecond: Int64 = 253_402_300_800_000     // 10000-01-01T00:00:00Z

    static func date(_ input: UnsafeBufferPointer<UInt8>) {
        let text = String(decoding: input, as: UTF8.self)
        // Printing the instant in UTC (to the millisecond) and parsing it back lands on the same
        // millisecond — for instants inside years 0001–9999 in UTC: an offset can push a date
        // written in year 1 or 9999 out of that range, and such an instant has no UTC text.
        if let date = ISODate(parsing: text), (Self.firstUTCMillisecond..<Self.endUTCMillisecond).contains(date.instant / 1000) {
            let milliseconds = date.instant >= 0 ? date.instant / 1000 : (date.instant - 999) / 1000
            let printed = ISODate.utcText(milliseconds: milliseconds)
            guard let again = ISODate(parsing: printed) else { fatalError("\(text) prints as \(printed), which does not parse") }
            require(again.instant == milliseconds * 1000, "\(text) → \(printed) moved the instant")
        }
        if let coerced = DateCoercion.isoDate(from: text) {
            require(ISODate(parsing: coerced) != nil, "once.date(\(text)) gave \(coerced), which is not a date")
        }
        if input.count >= 8 {
            let seconds = UnsafeRawBufferPointer(input).loadUnaligned(as: Double.self)
            if let coerced = DateCoercion.isoDate(fromUnixSeconds: seconds) {
                require(ISODate(parsing: coerced) != nil, "once.date(\(seconds)) gave \(coerced), which is not a date")
            }
        }
    }
}
