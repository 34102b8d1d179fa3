/// Why a value or name cannot be stored; becomes the `reason` of an
/// `ignored_invalid` outcome.
public struct InvalidValue: Error, Sendable, Equatable {
    /// Shown to the caller as the outcome's reason.
    public var reason: String
    /// Creates a value from its parts.
    public init(_ reason: String) { self.reason = reason }
}

/// The type rules of SPEC §1, as pure functions from JSON to ``PropertyValue``.
public enum Validator {
    /// In Unicode code points.
    public static let maxStringLength = 255
    /// In Unicode code points.
    public static let maxNameLength = 255
    /// Elements per list.
    public static let maxListCount = 1000

    /// A property name is 1–255 characters, does not start with `$` and holds no U+0000.
    public static func checkName(_ name: String) -> InvalidValue? {
        if name.isEmpty { return InvalidValue("property names must not be empty") }
        if name.hasPrefix("$") { return InvalidValue("property names must not start with '$'") }
        if holdsNUL(name) { return InvalidValue("property names must not contain U+0000") }
        if exceedsLength(name, maxNameLength) {
            return InvalidValue("property names are at most \(maxNameLength) characters")
        }
        return nil
    }

    /// U+0000 is refused in every stored text: PostgreSQL's `text` cannot hold it, and every
    /// store must answer alike (SPEC §7).
    static func holdsNUL(_ string: String) -> Bool {
        string.utf8.contains(0)
    }

    /// Length is counted in Unicode code points — what SQLite's and PostgreSQL's
    /// `length()` count — so a limit checked here holds in the store too.
    /// The byte count bounds the code point count, so short strings never pay for counting.
    static func exceedsLength(_ string: String, _ limit: Int) -> Bool {
        string.utf8.count > limit && string.unicodeScalars.count > limit
    }

    /// Why `json` can never be stored under any op: a string past 255
    /// characters, a list past 1,000 elements, or a list holding such a string.
    /// Decided at decode, before any rule runs, so the work a request costs is
    /// bounded by its size: no rule is handed a 100,000-element list to push
    /// into Lua and back (a rule that would have shortened it gets no chance).
    public static func unstorable(_ json: JSON) -> InvalidValue? {
        switch json {
        case .string(let string) where exceedsLength(string, maxStringLength):
            return InvalidValue("strings are at most \(maxStringLength) characters")
        case .array(let elements):
            if elements.count > maxListCount { return InvalidValue("lists hold at most \(maxListCount) elements") }
            for case .string(let string) in elements where exceedsLength(string, maxStringLength) {
                return InvalidValue("strings are at most \(maxStringLength) characters")
            }
            return nil
        default:
            return nil
        }
    }

    /// A value for `set_once` or `set`: any type, inferred from the JSON.
    public static func value(_ json: JSON) -> Result<PropertyValue, InvalidValue> {
        switch json {
        case .null: .failure(InvalidValue("null is not a property value"))
        case .object: .failure(InvalidValue("objects are not property values"))
        case .bool(let bool): .success(.boolean(bool))
        case .array(let elements): list(elements)
        default: scalar(json)
        }
    }

    /// A value for `add`: a number.
    public static func number(_ json: JSON) -> Result<PropertyValue, InvalidValue> {
        switch json {
        case .integer, .decimal, .outOfRangeNumber: scalar(json)
        default: .failure(InvalidValue("$add takes a number, not \(json.kindName)"))
        }
    }

    /// The elements for `append` or `remove`: one element, or each element of an array.
    public static func listElements(_ json: JSON) -> Result<[PropertyValue], InvalidValue> {
        let elements: [JSON]
        if case .array(let array) = json { elements = array } else { elements = [json] }
        if elements.count > maxListCount {
            return .failure(InvalidValue("lists hold at most \(maxListCount) elements"))
        }
        var values: [PropertyValue] = []
        values.reserveCapacity(elements.count)
        for element in elements {
            switch listElement(element) {
            case .success(let value): values.append(value)
            case .failure(let invalid): return .failure(invalid)
            }
        }
        return .success(values)
    }

    static func list(_ elements: [JSON]) -> Result<PropertyValue, InvalidValue> {
        listElements(.array(elements)).map(PropertyValue.list)
    }

    static func listElement(_ json: JSON) -> Result<PropertyValue, InvalidValue> {
        switch json {
        case .string, .integer, .decimal, .outOfRangeNumber: scalar(json)
        default: .failure(InvalidValue("list elements must be strings, numbers or dates, not \(json.kindName)"))
        }
    }

    /// Strings (inferring dates) and numbers.
    static func scalar(_ json: JSON) -> Result<PropertyValue, InvalidValue> {
        switch json {
        case .integer(let integer): return .success(.integer(integer))
        case .decimal(let double):
            return double.isFinite ? .success(.decimal(double)) : .failure(InvalidValue("numbers must be finite"))
        case .outOfRangeNumber(let text):
            return .failure(InvalidValue("number \(text.prefix(40)) is out of range"))
        case .string(let string):
            if exceedsLength(string, maxStringLength) {
                return .failure(InvalidValue("strings are at most \(maxStringLength) characters"))
            }
            if holdsNUL(string) { return .failure(InvalidValue("strings must not contain U+0000")) }
            if let date = ISODate(parsing: string) { return .success(.date(date)) }
            return .success(.string(string))
        default:
            return .failure(InvalidValue("\(json.kindName) is not a property value"))
        }
    }
}
