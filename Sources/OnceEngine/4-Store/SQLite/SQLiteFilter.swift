import Foundation

/// A ``Filter`` as an SQL condition on `profiles p`, its operands bound as
/// arguments, never spliced into the text.
///
/// A condition takes one of two forms, and ``Form`` says which:
/// - membership, `p.id IN (SELECT profile FROM property_values …)`: one range
///   scan of `property_values (name, value, profile)` gives every match, from
///   which the query is driven (or against which it tests);
/// - a probe, `EXISTS (SELECT 1 FROM (SELECT onced_value(p.props, ?) AS value) v …)`:
///   the profile's own value, read from its row, so a page walks
///   `profiles_by_distinct_id` in order and stops after its last match,
///   whatever the condition's size.
/// Operands take ``StoredValue``'s forms: a date is its instant.
struct SQLiteFilter {
    enum Form {
        /// Every condition as membership: what a count needs, which visits every match.
        case membership
        /// Every condition as a probe, except `driver` (if any), a small
        /// condition every match must meet, as membership: a page is driven
        /// from its matches, or walks the profiles in order when no condition is small.
        case probes(driver: Condition?)
        /// Every condition as a probe, except `driver`, whose rows the
        /// statement joins the profiles to: every profile it sees meets it.
        case joined(driver: Condition)
    }

    /// The namespace's registered names: id and type.
    let names: [String: (id: Int64, type: PropertyType)]
    let form: Form
    /// The column naming the profile that membership is tested for: `p.id`,
    /// or `v.profile` when a count is driven by one condition's own rows
    /// (each subquery's `v` is its own, so the outer `v` is only seen here).
    let subject: StaticString
    private(set) var arguments: [SQLiteBinder.Argument] = []

    init(names: [String: (id: Int64, type: PropertyType)], form: Form = .membership, subject: StaticString = "p.id") {
        self.names = names
        self.form = form
        self.subject = subject
    }

    /// Appends the SQL of `filter` to `sql`, its arguments to ``arguments``.
    mutating func sql(_ filter: Filter, into sql: inout SQLText) {
        switch filter {
        case .and(let filters): join(filters, " AND ", orIfNone: "1", into: &sql)
        case .or(let filters): join(filters, " OR ", orIfNone: "0", into: &sql)
        case .not(let filter):
            sql.append("NOT ")
            self.sql(filter, into: &sql)
        case .constant(let result): sql.append(result ? "1" : "0")
        case .condition(let condition): self.sql(condition, into: &sql)
        }
    }

    private mutating func join(_ filters: [Filter], _ separator: StaticString, orIfNone none: StaticString, into sql: inout SQLText) {
        guard !filters.isEmpty else { return sql.append(none) }
        sql.append("(")
        for (offset, filter) in filters.enumerated() {
            if offset > 0 { sql.append(separator) }
            self.sql(filter, into: &sql)
        }
        sql.append(")")
    }

    private mutating func sql(_ condition: Condition, into sql: inout SQLText) {
        // Dropped (and perhaps registered anew as another type) since the filter was checked.
        guard let name = names[condition.property], name.type == condition.type else {
            return sql.append(condition.test == .notSet ? "1" : "0")
        }
        if case .joined(let driver) = form, driver == condition { return sql.append("1") }
        arguments.append(.integer(name.id))
        let membership = switch form {
        case .membership: true
        case .probes(let driver): driver == condition
        case .joined: false
        }
        let notSet = condition.test == .notSet
        if membership { sql.append(subject) }
        switch (membership, notSet) {
        case (true, false): sql.append(" IN (SELECT v.profile FROM property_values v WHERE v.name = ?")
        case (true, true): sql.append(" NOT IN (SELECT v.profile FROM property_values v WHERE v.name = ?")
        case (false, false): sql.append("EXISTS (SELECT 1 FROM (SELECT onced_value(p.props, ?) AS value) v WHERE v.value IS NOT NULL")
        case (false, true): sql.append("NOT EXISTS (SELECT 1 FROM (SELECT onced_value(p.props, ?) AS value) v WHERE v.value IS NOT NULL")
        }
        if !notSet && condition.test != .isSet {
            sql.append(" AND ")
            predicate(condition.test, into: &sql)
        }
        sql.append(")")
    }

    /// The rows of `condition` alone, as `SELECT 1 FROM property_values v …` (an
    /// index range for the tests ``ranges(_:)`` allows), to size it up or to
    /// drive a count; with `profiles`, `SELECT v.profile …`, to join a page to.
    mutating func rows(of condition: Condition, profiles: Bool = false) -> SQLText? {
        guard let name = names[condition.property], name.type == condition.type else { return nil }
        precondition(condition.test != .notSet, "not_set has no rows of its own")
        arguments.append(.integer(name.id))
        var sql: SQLText = profiles ? "SELECT v.profile FROM property_values v WHERE v.name = ?" : "SELECT 1 FROM property_values v WHERE v.name = ?"
        if condition.test != .isSet {
            sql.append(" AND ")
            predicate(condition.test, into: &sql)
        }
        return sql
    }

    /// Whether the test is a range of `property_values`, so its size can be bounded cheaply.
    static func ranges(_ test: Test) -> Bool {
        switch test {
        case .equals, .below, .above, .oneOf, .prefix, .between: true
        case .differs, .holds, .substring, .isSet, .notSet: false
        }
    }

    /// Appends the test on `v.value`.
    private mutating func predicate(_ test: Test, into sql: inout SQLText) {
        switch test {
        case .equals(let operand): bind(operand, "v.value = ?", into: &sql)
        case .differs(let operand): bind(operand, "v.value <> ?", into: &sql)
        case .below(let operand, let orEqual): bind(operand, orEqual ? "v.value <= ?" : "v.value < ?", into: &sql)
        case .above(let operand, let orEqual): bind(operand, orEqual ? "v.value >= ?" : "v.value > ?", into: &sql)
        case .oneOf(let operands):
            arguments.append(.text(JSON.array(operands.map(Self.storedJSON)).text))
            sql.append("v.value IN (SELECT value FROM json_each(?))")
        case .holds(let element):
            switch element {
            case .date(let date):
                arguments.append(.integer(date.instant))
                sql.append("EXISTS (SELECT 1 FROM json_each(v.value) e WHERE e.type = 'text' AND onced_instant(e.value) = ?)")
            case .string(let string):
                // A list holding the string spells it `"string"` in its JSON text: `instr` rules out most
                // lists before json_each parses any (a 9 % count: 567 → 128 ms in SQL). Only for text
                // that JSON writers never escape, so that spelling is certain; json_each still decides.
                if let spelled = Self.unescapedJSONString(string) {
                    arguments.append(.text(spelled))
                    sql.append("instr(v.value, ?) > 0 AND ")
                }
                arguments.append(.text(string))
                sql.append("EXISTS (SELECT 1 FROM json_each(v.value) e WHERE e.type = 'text' AND e.value = ?)")
            default:
                bind(element, "EXISTS (SELECT 1 FROM json_each(v.value) e WHERE e.type IN ('integer', 'real') AND e.value = ?)", into: &sql)
            }
        case .substring(let part):
            arguments.append(.text(part))
            sql.append("instr(v.value, ?) > 0")
        case .prefix(let start):
            guard !start.isEmpty else { return sql.append("1") }
            arguments.append(.text(start))
            guard let end = PrefixBound.firstAfter(start) else { return sql.append("v.value >= ?") }
            arguments.append(.text(end))
            sql.append("v.value >= ? AND v.value < ?")
        case .between(let low, let high):
            arguments.append(.integer(low))
            arguments.append(.integer(high))
            sql.append("v.value BETWEEN ? AND ?")
        case .isSet, .notSet:
            preconditionFailure("handled by the condition")
        }
    }

    /// `"string"` as JSON text when every byte is printable ASCII that no JSON
    /// writer escapes (so not `"`, `\\` or `/`); nil otherwise.
    static func unescapedJSONString(_ string: String) -> String? {
        let plain = string.utf8.allSatisfy { (0x20...0x7E).contains($0) && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") && $0 != UInt8(ascii: "/") }
        return plain ? "\"\(string)\"" : nil
    }

    private mutating func bind(_ operand: PropertyValue, _ test: StaticString, into sql: inout SQLText) {
        arguments.append(Self.stored(operand))
        sql.append(test)
    }

    /// An operand in the form `value` holds it (``StoredValue``).
    static func stored(_ operand: PropertyValue) -> SQLiteBinder.Argument {
        switch operand {
        case .string(let string): .text(string)
        case .integer(let integer): .integer(integer)
        case .decimal(let double): .real(double)
        case .boolean(let bool): .integer(bool ? 1 : 0)
        case .date(let date): .integer(date.instant)
        case .list(let elements): .text(JSON.array(elements.map(\.json)).text)
        }
    }

    private static func storedJSON(_ operand: PropertyValue) -> JSON {
        switch operand {
        case .date(let date): .integer(date.instant)
        case .boolean(let bool): .integer(bool ? 1 : 0)
        default: operand.json
        }
    }
}
