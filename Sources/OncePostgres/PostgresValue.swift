import OnceEngine
import PostgresNIO

/// How a ``PropertyValue`` sits in the `properties` columns
/// `type, text, number, fractional, instant, list, list_keys`.
///
/// `number` is `numeric`, exact for every 64-bit integer; `fractional` keeps
/// the written form (`1` vs `1.0`), as SQLite's INTEGER/REAL do. Booleans are
/// 0/1 in `number`. A list is `jsonb` beside `list_keys`, one comparison key
/// per element, so `append` and `remove` compare elements inside one SQL
/// statement with SPEC §2's equality: numbers numerically, dates by instant.
enum PostgresValue {
    /// Binds the seven value columns, in order.
    static func bind(_ value: PropertyValue, into binds: inout PostgresBindings) {
        binds.append(value.type.rawValue)
        switch value {
        case .string(let string):
            binds.append(string); binds.appendNull(); binds.appendNull(); binds.appendNull(); binds.appendNull(); binds.appendNull()
        case .integer(let integer):
            binds.appendNull(); binds.append(String(integer)); binds.append(false); binds.appendNull(); binds.appendNull(); binds.appendNull()
        case .decimal(let double):
            binds.appendNull(); binds.append(String(double)); binds.append(true); binds.appendNull(); binds.appendNull(); binds.appendNull()
        case .boolean(let bool):
            binds.appendNull(); binds.append(bool ? "1" : "0"); binds.append(false); binds.appendNull(); binds.appendNull(); binds.appendNull()
        case .date(let date):
            binds.append(date.text); binds.appendNull(); binds.appendNull(); binds.append(date.instant); binds.appendNull(); binds.appendNull()
        case .list(let elements):
            binds.appendNull(); binds.appendNull(); binds.appendNull(); binds.appendNull()
            binds.append(listJSON(elements)); binds.append(keysJSON(elements))
        }
    }

    /// The SQL placeholders and casts for ``bind(_:into:)``'s columns, from `$first`.
    static func placeholders(from first: Int) -> String {
        let casts = ["", "", "::numeric", "", "", "::jsonb", "::jsonb"]
        return casts.enumerated().map { "$\(first + $0.offset)\($0.element)" }.joined(separator: ", ")
    }

    /// The columns ``read(_:)`` expects, as SQL.
    static let selectColumns = "type, text, number::text, fractional, instant, list::text"

    /// Reads the columns of ``selectColumns``.
    static func read(_ columns: (String, String?, String?, Bool?, Int64?, String?)) throws -> PropertyValue {
        let (typeName, text, number, fractional, instant, list) = columns
        switch try PropertyType(stored: typeName) {
        case .string:
            guard let text else { throw StoreError.corrupt("string without text") }
            return .string(text)
        case .number:
            guard let number else { throw StoreError.corrupt("number without a value") }
            if fractional != true, let integer = Int64(number) { return .integer(integer) }
            guard let double = Double(number) else { throw StoreError.corrupt("unreadable number \(number)") }
            return .decimal(double)
        case .boolean:
            guard let number else { throw StoreError.corrupt("boolean without 0/1") }
            return .boolean(number != "0")
        case .date:
            guard let text, let instant else { throw StoreError.corrupt("date without text") }
            return .date(ISODate(text: text, instant: instant))
        case .list:
            guard let list, let json = try? JSONParser.parse(list),
                  case .success(let elements) = Validator.listElements(json) else {
                throw StoreError.corrupt("unreadable list")
            }
            return .list(elements)
        }
    }

    static func listJSON(_ elements: [PropertyValue]) -> String {
        JSON.array(elements.map(\.json)).text
    }

    static func keysJSON(_ elements: [PropertyValue]) -> String {
        JSON.array(elements.map { .string(key(of: $0)) }).text
    }

    /// Equal for elements SPEC §2 calls the same: `1` and `1.0` share `n:1.0`;
    /// a date's key is its instant. Integers beyond 2^53 keep an exact key of
    /// their own (no double is numerically equal to them without rounding).
    static func key(of element: PropertyValue) -> String {
        switch element {
        case .string(let string): "s:" + string
        case .date(let date): "d:\(date.instant)"
        case .integer(let integer): Double(exactly: integer).map { "n:\($0 == 0 ? 0 : $0)" } ?? "i:\(integer)"
        case .decimal(let double): "n:\(double == 0 ? 0 : double)"
        case .boolean(let bool): "b:\(bool)"
        case .list: "l:"  // lists never nest
        }
    }
}
