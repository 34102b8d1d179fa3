import GRDB

/// Reads a ``PropertyValue`` back from the columns of a `properties` row
/// (``SQLiteBinder/value(_:)`` writes them).
enum StoredValue {
    /// Reads columns `type, text, number, instant, list` starting at `offset`.
    static func value(from row: Row, at offset: Int) throws -> PropertyValue {
        guard let type = PropertyType(rawValue: row[offset]) else {
            throw StoreError.corrupt("unknown type \(String(describing: row[offset] as String?))")
        }
        let text: String? = row[offset + 1]
        let number: DatabaseValue = row[offset + 2]
        switch type {
        case .string:
            guard let text else { throw StoreError.corrupt("string without text") }
            return .string(text)
        case .number:
            switch number.storage {
            case .int64(let integer): return .integer(integer)
            case .double(let double): return .decimal(double)
            default: throw StoreError.corrupt("number without a numeric value")
            }
        case .boolean:
            guard case .int64(let integer) = number.storage else { throw StoreError.corrupt("boolean without 0/1") }
            return .boolean(integer != 0)
        case .date:
            guard let text, let instant: Int64 = row[offset + 3] else { throw StoreError.corrupt("date without text") }
            return .date(ISODate(text: text, instant: instant))
        case .list:
            guard let list: String = row[offset + 4], let json = try? JSONParser.parse(list),
                  case .success(let elements) = Validator.listElements(json) else {
                throw StoreError.corrupt("unreadable list")
            }
            return .list(elements)
        }
    }
}
