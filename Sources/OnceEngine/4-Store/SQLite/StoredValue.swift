import GRDBSQLite

/// Reads a ``PropertyValue`` back from a `properties` row
/// (``SQLiteBinder/value(_:)`` writes it).
///
/// Storage v2 keeps each value in one column, `value`, so one index on
/// `(name, value)` serves every typed condition of SPEC §8: a string as
/// TEXT, a number as INTEGER or REAL (the written form), a boolean as 0/1, a
/// date as its instant in microseconds (its written form in `text`), a list
/// as JSON. The type is the property name's (`property_names.type`).
///
/// Read through the C API from the statement's current row: an export reads
/// ten values per profile, and GRDB's `DatabaseValue` allocated for each.
enum StoredValue {
    /// Reads columns `value, text` starting at `column` of the current row of `statement`, as a value of `type`.
    static func value(of type: PropertyType, in statement: OpaquePointer, at column: Int32) throws -> PropertyValue {
        switch (type, sqlite3_column_type(statement, column)) {
        case (.string, SQLITE_TEXT):
            return .string(text(statement, column))
        case (.number, SQLITE_INTEGER):
            return .integer(sqlite3_column_int64(statement, column))
        case (.number, SQLITE_FLOAT):
            return .decimal(sqlite3_column_double(statement, column))
        case (.boolean, SQLITE_INTEGER):
            return .boolean(sqlite3_column_int64(statement, column) != 0)
        case (.date, SQLITE_INTEGER):
            guard sqlite3_column_type(statement, column + 1) == SQLITE_TEXT else { throw StoreError.corrupt("date without its text") }
            return .date(ISODate(text: text(statement, column + 1), instant: sqlite3_column_int64(statement, column)))
        case (.list, SQLITE_TEXT):
            guard let json = try? JSONParser.parse(bytes(statement, column)),
                  case .success(let elements) = Validator.listElements(json) else {
                throw StoreError.corrupt("unreadable list")
            }
            return .list(elements)
        case (_, let storage):
            let held = [SQLITE_INTEGER: "an integer", SQLITE_FLOAT: "a real", SQLITE_TEXT: "text", SQLITE_BLOB: "a blob"][storage] ?? "null"
            throw StoreError.corrupt("a \(type.rawValue) property holds \(held)")
        }
    }

    /// A column of the current row as a blob's bytes (none for NULL), valid until the statement steps on.
    static func blob(_ statement: OpaquePointer, _ column: Int32) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: sqlite3_column_blob(statement, column), count: Int(sqlite3_column_bytes(statement, column)))
    }

    /// A TEXT column as a String (its length from SQLite, so NULs inside survive).
    static func text(_ statement: OpaquePointer, _ column: Int32) -> String {
        String(decoding: bytes(statement, column), as: UTF8.self)
    }

    private static func bytes(_ statement: OpaquePointer, _ column: Int32) -> UnsafeBufferPointer<UInt8> {
        // sqlite3_column_text first, then _bytes: the order SQLite documents for a length in UTF-8.
        guard let start = sqlite3_column_text(statement, column) else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: start, count: Int(sqlite3_column_bytes(statement, column)))
    }
}
