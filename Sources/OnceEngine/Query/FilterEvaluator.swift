/// SPEC §8 read plainly, one profile at a time: the memory store's queries,
/// and the reference the SQL of each store is tested against.
public enum FilterEvaluator {
    /// Whether a profile holding `properties` matches `filter`.
    public static func matches(_ filter: Filter, _ properties: [String: PropertyValue]) -> Bool {
        switch filter {
        case .and(let filters): filters.allSatisfy { matches($0, properties) }
        case .or(let filters): filters.contains { matches($0, properties) }
        case .not(let filter): !matches(filter, properties)
        case .constant(let result): result
        case .condition(let condition):
            if let value = properties[condition.property], value.type == condition.type {
                passes(value, condition.test)
            } else {
                condition.test == .notSet
            }
        }
    }

    private static func passes(_ value: PropertyValue, _ test: Test) -> Bool {
        switch test {
        case .isSet: true
        case .notSet: false
        case .equals(let operand): compare(value, operand) == 0
        case .differs(let operand): compare(value, operand) != 0
        case .below(let operand, let orEqual): compare(value, operand).map { $0 < 0 || (orEqual && $0 == 0) } ?? false
        case .above(let operand, let orEqual): compare(value, operand).map { $0 > 0 || (orEqual && $0 == 0) } ?? false
        case .oneOf(let operands): operands.contains { compare(value, $0) == 0 }
        case .holds(let element):
            if case .list(let elements) = value { elements.contains { compare($0, element) == 0 } } else { false }
        case .substring(let part):
            if case .string(let string) = value { contains(Array(string.utf8), Array(part.utf8)) } else { false }
        case .prefix(let start):
            if case .string(let string) = value { string.utf8.starts(with: start.utf8) } else { false }
        case .between(let low, let high):
            if case .date(let date) = value { low <= date.instant && date.instant <= high } else { false }
        }
    }

    /// -1, 0 or 1 as `value` sorts before, with or after `operand`; nil for
    /// values of different kinds. Numbers compare exactly (an integer past
    /// 2^53 is not equal to its nearest double), dates by instant, strings and
    /// booleans (false before true) as SQL does.
    static func compare(_ value: PropertyValue, _ operand: PropertyValue) -> Int? {
        switch (value, operand) {
        case (.string(let a), .string(let b)): order(a.utf8.lexicographicallyPrecedes(b.utf8), a.utf8.elementsEqual(b.utf8))
        case (.integer(let a), .integer(let b)): order(a < b, a == b)
        case (.decimal(let a), .decimal(let b)): order(a < b, a == b)
        case (.integer(let a), .decimal(let b)): compare(integer: a, double: b)
        case (.decimal(let a), .integer(let b)): -compare(integer: b, double: a)
        case (.boolean(let a), .boolean(let b)): order(!a && b, a == b)
        case (.date(let a), .date(let b)): order(a.instant < b.instant, a.instant == b.instant)
        default: nil
        }
    }

    private static func order(_ less: Bool, _ equal: Bool) -> Int { less ? -1 : equal ? 0 : 1 }

    private static func compare(integer: Int64, double: Double) -> Int {
        if double < -9.3e18 { return 1 }
        if double > 9.3e18 { return -1 }
        let whole = double.rounded(.down)
        if whole >= 9.2e18 || whole <= -9.2e18 {
            // Beyond what the integer's own range can decide exactly: the doubles are far apart here.
            return order(Double(integer) < double, Double(integer) == double)
        }
        let truncated = Int64(whole)
        if integer != truncated { return order(integer < truncated, false) }
        return order(whole < double ? true : false, whole == double)
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return true
        }
        return false
    }
}
