import GRDBSQLite

/// A packed value in the form SQLite compares: an integer, a real, text (a
/// string, or a list's JSON), 0/1 for a boolean, a date's instant
/// (``StoredValue``). `property_values` rows hold it, and `onced_value`
/// answers it to a query that tests one profile's value.
extension PackedValues {
    /// The value of `entry` (an entry of `blob`) as SQLite holds it.
    enum SQLValue {
        case integer(Int64), real(Double)
        /// UTF-8 inside the blob.
        case text(UnsafeRawBufferPointer)
    }

    static func sqlValue(_ entry: Entry, in blob: UnsafeRawBufferPointer) -> SQLValue {
        let payload = UnsafeRawBufferPointer(rebasing: blob[entry.payload])
        switch entry.tag {
        case .integer, .date: return .integer(Reader.fixed(payload))
        case .real: return .real(Double(bitPattern: UInt64(bitPattern: Reader.fixed(payload))))
        case .no: return .integer(0)
        case .yes: return .integer(1)
        case .text, .list: return .text(Reader.text(payload))
        }
    }

    /// Binds the value of `entry`.
    func bind(_ entry: Entry, to binder: inout SQLiteBinder) {
        bytes.withUnsafeBytes { blob in
            switch Self.sqlValue(entry, in: blob) {
            case .integer(let integer): binder.integer(integer)
            case .real(let real): binder.real(real)
            case .text(let text): binder.bytes(text, asText: true)
            }
        }
    }

    /// Adds `onced_value(props, name)` to a connection: the value the blob
    /// `props` holds for the name id, or NULL when it holds none. It reads the
    /// blob in place (a page's probe calls it once per profile it walks).
    static func addValueFunction(to connection: OpaquePointer) {
        sqlite3_create_function_v2(connection, "onced_value", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nil, { context, _, arguments in
            guard let arguments, let props = arguments[0], let name = arguments[1],
                  let start = sqlite3_value_blob(props) else { return sqlite3_result_null(context) }
            let blob = UnsafeRawBufferPointer(start: start, count: Int(sqlite3_value_bytes(props)))
            guard let entry = PackedValues.entry(sqlite3_value_int64(name), in: blob) else { return sqlite3_result_null(context) }
            switch PackedValues.sqlValue(entry, in: blob) {
            case .integer(let integer): sqlite3_result_int64(context, integer)
            case .real(let real): sqlite3_result_double(context, real)
            case .text(let text):
                guard let start = text.baseAddress, !text.isEmpty else { return sqlite3_result_text(context, "", 0, nil) }
                sqlite3_result_text(context, start.assumingMemoryBound(to: CChar.self), Int32(text.count),
                                    unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            }
        }, nil, nil, nil)
    }
}
