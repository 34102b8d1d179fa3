import GRDB

/// Reads a ``PropertyValue`` back from a `properties` row
/// (``SQLiteBinder/value(_:)`` writes it).
///
/// Storage v2 keeps each value in one column, `value`, so one index on
/// `(name, value)` serves every typed condition of SPEC §8: a string as
/// TEXT, a number as INTEGER or REAL (the written form), a boolean as 0/1, a
/// date as its instant in microseconds (its written form in `text`), a list
/// as JSON. The type is the property name's (`property_names.type`).
enum StoredValue {
    /// Reads columns `value, text` starting at `offset`, as a value of `type`.
    static func value(of type: PropertyType, from row: Row, at offset: Int) throws -> PropertyValue {
        let value: DatabaseValue = row[offset]
        switch (type, value.storage) {
        case (.string, .string(let text)):
            return .string(text)
        case (.number, .int64(let integer)):
            return .integer(integer)
        case (.number, .double(let double)):
            return .decimal(double)
        case (.boolean, .int64(let integer)):
            return .boolean(integer != 0)
        case (.date, .int64(let instant)):
            guard let text: String = row[offset + 1] else { throw StoreError.corrupt("date without its text") }
            return .date(ISODate(text: text, instant: instant))
        case (.list, .string(let list)):
            guard let json = try? JSONParser.parse(list), case .success(let elements) = Validator.listElements(json) else {
                throw StoreError.corrupt("unreadable list")
            }
            return .list(elements)
        default:
            throw StoreError.corrupt("a \(type.rawValue) property holds \(value)")
        }
    }
}
