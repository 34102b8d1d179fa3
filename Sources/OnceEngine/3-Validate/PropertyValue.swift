/// The type a namespace registers for a property with its first stored value.
public enum PropertyType: String, Sendable, CaseIterable, Codable {
    case string, number, boolean, date, list
}

/// A validated property value: the one shape every stage after validation uses.
///
/// Numbers keep their written form (``integer`` vs ``decimal``); dates keep
/// their text. Lists hold only strings, numbers and dates.
public enum PropertyValue: Sendable, Hashable {
    case string(String)
    case integer(Int64)
    case decimal(Double)
    case boolean(Bool)
    case date(ISODate)
    case list([PropertyValue])

    /// The type this value would register for a new property.
    public var type: PropertyType {
        switch self {
        case .string: .string
        case .integer, .decimal: .number
        case .boolean: .boolean
        case .date: .date
        case .list: .list
        }
    }

    /// This value as it must be stored under a property registered as `registered`,
    /// or nil when the types differ.
    ///
    /// The one coercion: a date-shaped string sent to a `string` property stays a
    /// string (SPEC §1), because the registered type, not the text, decides.
    public func conforming(to registered: PropertyType) -> PropertyValue? {
        if type == registered { return self }
        if registered == .string, case .date(let date) = self { return .string(date.text) }
        return nil
    }

    /// Whether two list elements are the same for append/remove: numbers compare
    /// numerically (1 == 1.0), dates by instant, strings by text.
    func isSameElement(as other: PropertyValue) -> Bool {
        switch (self, other) {
        case (.string(let a), .string(let b)): a == b
        case (.date(let a), .date(let b)): a.instant == b.instant
        case (.integer(let a), .integer(let b)): a == b
        case (.integer, .decimal), (.decimal, .integer), (.decimal, .decimal):
            numericValue == other.numericValue
        default: false
        }
    }

    /// `$add` as SQLite's arithmetic does it, for every store: integers stay
    /// integers unless they overflow; anything with a decimal is a decimal.
    static func sum(_ current: PropertyValue?, _ number: PropertyValue) -> PropertyValue {
        switch (current, number) {
        case (nil, _): number
        case (.integer(let a)?, .integer(let b)):
            a.addingReportingOverflow(b).overflow ? .decimal(Double(a) + Double(b)) : .integer(a + b)
        default: .decimal((current?.numericValue ?? 0) + (number.numericValue ?? 0))
        }
    }

    var numericValue: Double? {
        switch self {
        case .integer(let integer): Double(integer)
        case .decimal(let double): double
        default: nil
        }
    }

    /// ``json`` as compact JSON text, written without building the tree first
    /// (a profile's every value, in GET, a page and each export line).
    public func writeJSON(to output: inout [UInt8]) {
        switch self {
        case .string(let string): JSON.writeString(string, to: &output)
        case .date(let date): JSON.writeString(date.text, to: &output)
        case .list(let elements):
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                element.writeJSON(to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .integer, .decimal, .boolean: json.write(to: &output)
        }
    }

    /// The JSON form users see: dates as their text, numbers as written.
    public var json: JSON {
        switch self {
        case .string(let string): .string(string)
        case .integer(let integer): .integer(integer)
        case .decimal(let double): .decimal(double)
        case .boolean(let bool): .bool(bool)
        case .date(let date): .string(date.text)
        case .list(let elements): .array(elements.map(\.json))
        }
    }
}
