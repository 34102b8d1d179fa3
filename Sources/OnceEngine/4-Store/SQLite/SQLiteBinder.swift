import Foundation
import GRDB
import GRDBSQLite

/// Binds and steps GRDB's cached statements through the SQLite C API.
///
/// The write path runs several statements per property on the one writer
/// thread; GRDB's `StatementArguments` box every argument in an existential,
/// and that boxing cost more than SQLite's own work. Here a statement is
/// bound in place, stepped, and reset.
struct SQLiteBinder {
    private let handle: OpaquePointer
    private var index: Int32 = 0

    /// SQLITE_TRANSIENT: SQLite copies the bytes before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private init(_ handle: OpaquePointer) {
        self.handle = handle
    }

    mutating func text(_ string: String) {
        var string = string
        string.withUTF8 { text(utf8: $0) }
    }

    /// Binds UTF-8 bytes as text.
    mutating func text(utf8 bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { text(utf8: $0) }
    }

    private mutating func text(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        index += 1
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            _ = sqlite3_bind_text(handle, index, "", 0, Self.transient)
            return
        }
        base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
            _ = sqlite3_bind_text(handle, index, $0, Int32(bytes.count), Self.transient)
        }
    }

    mutating func text(_ string: String?) {
        if let string { text(string) } else { null() }
    }

    mutating func integer(_ value: Int64) {
        index += 1
        sqlite3_bind_int64(handle, index, value)
    }

    mutating func real(_ value: Double) {
        index += 1
        sqlite3_bind_double(handle, index, value)
    }

    mutating func null() {
        index += 1
        sqlite3_bind_null(handle, index)
    }

    /// Binds the two value columns, `value` and `text` (see ``StoredValue``).
    mutating func value(_ value: PropertyValue) {
        switch value {
        case .string(let string): text(string)
        case .integer(let integer): self.integer(integer)
        case .decimal(let double): real(double)
        case .boolean(let bool): integer(bool ? 1 : 0)
        case .date(let date): integer(date.instant)
        case .list:
            var json: [UInt8] = []
            value.writeJSON(to: &json)
            text(utf8: json)
        }
        if case .date(let date) = value { text(date.text) } else { null() }
    }

    /// An operand of a compiled filter (``SQLiteFilter/arguments``), in the
    /// form SQLite binds it: GRDB's `DatabaseValueConvertible` existentials
    /// were copied and converted to a `DatabaseValue` at every bind.
    enum Argument {
        case integer(Int64)
        case real(Double)
        case text(String)
    }

    mutating func argument(_ argument: Argument) {
        switch argument {
        case .integer(let value): integer(value)
        case .real(let value): real(value)
        case .text(let value): text(value)
        }
    }

    /// Binds raw bytes as text (UTF-8 read from a stored blob) or as a blob.
    mutating func bytes(_ bytes: UnsafeRawBufferPointer, asText: Bool) {
        index += 1
        // SQLite binds a nil pointer as NULL: no bytes are bound as empty text or an empty blob.
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            _ = asText ? sqlite3_bind_text(handle, index, "", 0, Self.transient) : sqlite3_bind_zeroblob(handle, index, 0)
            return
        }
        if asText {
            _ = sqlite3_bind_text(handle, index, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count), Self.transient)
        } else {
            _ = sqlite3_bind_blob(handle, index, base, Int32(bytes.count), Self.transient)
        }
    }

    /// Binds 16 bytes (a request id, for provenance).
    mutating func blob(_ uuid: UUID) {
        index += 1
        withUnsafeBytes(of: uuid.uuid) { bytes in
            _ = sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), Self.transient)
        }
    }

    /// Resets `statement`, binds it with `bind`, and steps it to completion.
    /// Returns the number of rows it changed.
    @discardableResult
    static func run(_ statement: Statement, in db: Database, _ bind: (inout SQLiteBinder) -> Void) throws -> Int {
        try step(statement, in: db, bind) { _, _ in Int(sqlite3_changes(db.sqliteConnection)) }
    }

    /// Like ``run(_:in:_:)`` for a query of one text column: the first row's value, or nil.
    static func text(_ statement: Statement, in db: Database, _ bind: (inout SQLiteBinder) -> Void) throws -> String? {
        try step(statement, in: db, bind) { handle, hasRow in
            hasRow ? sqlite3_column_text(handle, 0).map { String(cString: $0) } : nil
        }
    }

    /// Like ``run(_:in:_:)`` for a query of one integer column: the first row's value, or nil.
    static func integer(_ statement: Statement, in db: Database, _ bind: (inout SQLiteBinder) -> Void) throws -> Int64? {
        try step(statement, in: db, bind) { handle, hasRow in hasRow ? sqlite3_column_int64(handle, 0) : nil }
    }

    /// Runs a statement that returns one integer column per row (`RETURNING`) to completion: every row's value.
    static func integers(_ statement: Statement, in db: Database, _ bind: (inout SQLiteBinder) -> Void) throws -> [Int64] {
        var values: [Int64] = []
        try forEachRow(statement, in: db, bind) { values.append(sqlite3_column_int64($0, 0)) }
        return values
    }

    /// Binds `statement` with `bind`, steps it to completion (or through its
    /// first `limit` rows), and hands `row` the statement at each row, to read
    /// with `sqlite3_column_*`.
    static func forEachRow(_ statement: Statement, in db: Database, limit: Int = .max, _ bind: (inout SQLiteBinder) -> Void,
                           _ row: (OpaquePointer) throws -> Void) throws {
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        defer { sqlite3_reset(handle) }
        var binder = SQLiteBinder(handle)
        bind(&binder)
        var rows = 0
        while rows < limit {
            let code = sqlite3_step(handle)
            if code == SQLITE_ROW {
                rows += 1
                try row(handle)
                continue
            }
            guard code == SQLITE_DONE else { throw error(code, statement, db) }
            return
        }
    }

    /// Binds, steps once, reads the outcome with `read` (given the statement and whether
    /// a row is current), and resets the statement whatever happens.
    private static func step<T>(_ statement: Statement, in db: Database, _ bind: (inout SQLiteBinder) -> Void,
                                read: (OpaquePointer, Bool) -> T) throws -> T {
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        var binder = SQLiteBinder(handle)
        bind(&binder)
        let code = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        guard code == SQLITE_DONE || code == SQLITE_ROW else { throw error(code, statement, db) }
        return read(handle, code == SQLITE_ROW)
    }

    private static func error(_ code: Int32, _ statement: Statement, _ db: Database) -> DatabaseError {
        let message = db.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) }
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
    }
}
