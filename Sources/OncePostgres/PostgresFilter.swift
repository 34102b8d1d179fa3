import OnceEngine
import PostgresNIO

/// A ``Filter`` as an SQL condition on `profiles p`, operands bound as
/// parameters from `$3` on (`$1`, `$2` are the namespace).
///
/// Each condition is an `EXISTS` on the property's current stored name
/// (``Registration``): rows of a dropped generation never match, reclaimed or
/// not. Strings, numbers and dates are compared through their own columns
/// (``PostgresValue``), which the value indexes of migration 5 cover.
struct PostgresFilter {
    /// The namespace's registered names: stored name and type.
    let names: [String: (stored: String, type: PropertyType)]
    private(set) var binds: PostgresBindings

    init(names: [String: (stored: String, type: PropertyType)], namespace: Namespace) {
        self.names = names
        binds = PostgresBindings()
        binds.append(namespace.workspace)
        binds.append(namespace.version.rawValue)
    }

    /// The next placeholder, `value` bound to it.
    mutating func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    mutating func sql(_ filter: Filter) -> String {
        switch filter {
        case .and(let filters): filters.isEmpty ? "true" : "(" + filters.map { sql($0) }.joined(separator: " AND ") + ")"
        case .or(let filters): filters.isEmpty ? "false" : "(" + filters.map { sql($0) }.joined(separator: " OR ") + ")"
        case .not(let filter): "NOT " + sql(filter)
        case .constant(let result): result ? "true" : "false"
        case .condition(let condition): sql(condition)
        }
    }

    private mutating func sql(_ condition: Condition) -> String {
        guard let name = names[condition.property], name.type == condition.type else {
            return condition.test == .notSet ? "true" : "false"
        }
        let rows = "SELECT 1 FROM properties v WHERE v.workspace = $1 AND v.version = $2 AND v.distinct_id = p.distinct_id AND v.name = \(bind(name.stored))"
        switch condition.test {
        case .isSet: return "EXISTS (\(rows))"
        case .notSet: return "NOT EXISTS (\(rows))"
        default: return "EXISTS (\(rows) AND \(predicate(condition.test)))"
        }
    }

    private mutating func predicate(_ test: Test) -> String {
        switch test {
        case .equals(let operand): return "\(column(operand)) = \(bind(operand: operand))"
        case .differs(let operand): return "\(column(operand)) <> \(bind(operand: operand))"
        case .below(let operand, let orEqual): return "\(column(operand)) \(orEqual ? "<=" : "<") \(bind(operand: operand))"
        case .above(let operand, let orEqual): return "\(column(operand)) \(orEqual ? ">=" : ">") \(bind(operand: operand))"
        case .oneOf(let operands):
            guard let first = operands.first else { return "false" }
            switch first {
            case .date: return "v.instant = ANY(\(bind(operands.map(\.instant))))"
            case .string: return "v.type = 'string' AND v.text = ANY(\(bind(operands.map(\.text))))"
            default: return "v.number = ANY(\(bind(operands.map(\.numeric)))::numeric[])"
            }
        case .holds(let element):
            return "v.list_keys @> \(bind(JSON.array([.string(PostgresValue.key(of: element))]).text))::jsonb"
        case .substring(let part):
            return "v.type = 'string' AND strpos(v.text, \(bind(part))) > 0"
        case .prefix(let start):
            guard !start.isEmpty else { return "true" }
            // A range of the text index (PrefixBound).
            let low = "v.type = 'string' AND v.text COLLATE \"C\" >= \(bind(start))"
            guard let end = PrefixBound.firstAfter(start) else { return low }
            return "\(low) AND v.text COLLATE \"C\" < \(bind(end))"
        case .between(let low, let high):
            return "v.instant BETWEEN \(bind(low)) AND \(bind(high))"
        case .isSet, .notSet:
            preconditionFailure("handled by the condition")
        }
    }

    /// The column an operand of this kind is compared with; strings in byte order.
    private func column(_ operand: PropertyValue) -> String {
        switch operand {
        case .string: "v.type = 'string' AND v.text COLLATE \"C\""
        case .date: "v.instant"
        default: "v.number"
        }
    }

    private mutating func bind(operand: PropertyValue) -> String {
        switch operand {
        case .string(let string): bind(string)
        case .date(let date): bind(date.instant)
        default: bind(operand.numeric) + "::numeric"
        }
    }
}

private extension PropertyValue {
    /// A number or boolean as `numeric` text (booleans are 0/1, as stored).
    var numeric: String {
        switch self {
        case .integer(let integer): String(integer)
        case .decimal(let double): String(double)
        case .boolean(let bool): bool ? "1" : "0"
        default: preconditionFailure("not a number")
        }
    }

    var text: String {
        if case .string(let string) = self { return string }
        preconditionFailure("not a string")
    }

    var instant: Int64 {
        if case .date(let date) = self { return date.instant }
        preconditionFailure("not a date")
    }
}
