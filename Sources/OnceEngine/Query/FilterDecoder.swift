/// Reads a SPEC §8 filter from JSON and checks it against the namespace's
/// registered types, so a store only ever sees well-typed conditions. Every
/// problem is a ``DecodeError`` (a 400) that says where: the property, its
/// type and what does not fit.
public struct FilterDecoder {
    public static let maxDepth = 8
    public static let maxConditions = 64
    public static let maxInValues = 1000

    let types: [String: PropertyType]
    /// What `within_days` counts back from, in µs since 1970.
    let now: Int64
    private var conditions = 0

    /// - Parameters:
    ///   - types: the namespace's registered types.
    ///   - now: the query's time, in µs since 1970.
    public init(types: [String: PropertyType], now: Int64) {
        self.types = types
        self.now = now
    }

    /// The filter of a `where` member: nil selects every profile, as `{}` does wherever it stands.
    public mutating func filter(_ json: JSON?) throws(DecodeError) -> Filter {
        guard let json else { return .everything }
        return try filter(json, depth: 0)
    }

    private mutating func filter(_ json: JSON, depth: Int) throws(DecodeError) -> Filter {
        guard case .object(let object) = json else { throw DecodeError("a filter must be an object, not \(json.kindName)") }
        if object.members.isEmpty { return .everything }
        if object["property"] != nil { return try condition(object) }
        guard object.members.count == 1, let member = object.members.first else {
            throw DecodeError("a filter is {\"and\": [...]}, {\"or\": [...]}, {\"not\": filter} or a condition with \"property\" and \"op\"")
        }
        guard depth < Self.maxDepth else { throw DecodeError("filters nest at most \(Self.maxDepth) levels of and/or/not") }
        switch member.key {
        case "and", "or":
            guard case .array(let items) = member.value else { throw DecodeError("\"\(member.key)\" takes an array of filters") }
            var filters: [Filter] = []
            for item in items { filters.append(try filter(item, depth: depth + 1)) }
            return member.key == "and" ? .and(filters) : .or(filters)
        case "not":
            return .not(try filter(member.value, depth: depth + 1))
        default:
            throw DecodeError("unknown filter key \"\(member.key.prefix(64))\": expected and, or, not or a condition")
        }
    }

    private mutating func condition(_ object: JSONObject) throws(DecodeError) -> Filter {
        conditions += 1
        guard conditions <= Self.maxConditions else { throw DecodeError("a filter holds at most \(Self.maxConditions) conditions") }
        if let key = object.members.first(where: { $0.key != "property" && $0.key != "op" && $0.key != "value" })?.key {
            throw DecodeError("unknown condition key \"\(key.prefix(64))\"")
        }
        guard let property = object["property"]?.stringValue else { throw DecodeError("a condition's property must be a string") }
        if let invalid = Validator.checkName(property) { throw DecodeError("condition on \"\(property.prefix(64))\": \(invalid.reason)") }
        guard let opName = object["op"]?.stringValue, let op = QueryOp(rawValue: opName) else {
            let shown = object["op"].map { $0.stringValue.map { "\"\($0.prefix(64))\"" } ?? $0.kindName } ?? "missing"
            throw DecodeError("condition on \(property): unknown op \(shown); ops are \(QueryOp.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let value = object["value"]
        if op.takesNoValue, value != nil { throw DecodeError("condition on \(property): \(op.rawValue) takes no value") }
        if !op.takesNoValue, value == nil { throw DecodeError("condition on \(property): \(op.rawValue) needs a value") }
        guard let type = types[property] else {
            // Nothing to check the operand against; only the shape of an `in` is known.
            if op == .in, case .array(let items)? = value, items.count > Self.maxInValues { throw tooManyValues(property) }
            return .constant(op == .notSet)
        }
        let problem = { (what: String) in DecodeError("condition on \(property) (a \(type.rawValue) property): \(what)") }
        guard op.applies(to: type) else { throw problem("\(op.rawValue) does not apply to \(type.rawValue) properties") }
        let test: Test
        switch op {
        case .eq: test = .equals(try operand(value!, of: type, problem))
        case .ne: test = .differs(try operand(value!, of: type, problem))
        case .lt: test = .below(try operand(value!, of: type, problem), orEqual: false)
        case .lte: test = .below(try operand(value!, of: type, problem), orEqual: true)
        case .gt: test = .above(try operand(value!, of: type, problem), orEqual: false)
        case .gte: test = .above(try operand(value!, of: type, problem), orEqual: true)
        case .in:
            guard case .array(let items) = value! else { throw problem("in takes an array of values") }
            guard items.count <= Self.maxInValues else { throw tooManyValues(property) }
            var values: [PropertyValue] = []
            for item in items { values.append(try operand(item, of: type, problem)) }
            test = .oneOf(values)
        case .contains:
            if type == .string {
                test = .substring(try operand(value!, of: .string, problem).stringOperand)
            } else {
                guard case .success(let element) = Validator.listElement(value!) else {
                    throw problem("contains takes a string, number or date, not \(value!.kindName)")
                }
                test = .holds(element)
            }
        case .startsWith: test = .prefix(try operand(value!, of: .string, problem).stringOperand)
        case .withinDays:
            let days: Double? = switch value! {
            case .integer(let integer): Double(integer)
            case .decimal(let double): double
            default: nil
            }
            guard let days, days > 0, days <= 1_000_000 else { throw problem("within_days takes a number of days above 0 (at most 1,000,000)") }
            test = .between(now - Int64((days * 86_400_000_000).rounded()), now)
        case .isSet: test = .isSet
        case .notSet: test = .notSet
        }
        return .condition(Condition(property: property, type: type, test: test))
    }

    /// `json` as a value of `type`, or the 400 that says why it is not one.
    private func operand(_ json: JSON, of type: PropertyType, _ problem: (String) -> DecodeError) throws(DecodeError) -> PropertyValue {
        switch (type, json) {
        case (.string, .string(let string)):
            guard !string.utf8.contains(0) else { throw problem("strings must not contain U+0000") }
            return .string(string)
        case (.number, .integer(let integer)): return .integer(integer)
        case (.number, .decimal(let double)) where double.isFinite: return .decimal(double)
        case (.boolean, .bool(let bool)): return .boolean(bool)
        case (.date, .string(let text)):
            guard let date = ISODate(parsing: text) else { throw problem("\"\(text.prefix(64))\" is not an ISO 8601 date") }
            return .date(date)
        default:
            throw problem("\(json.kindName) is not a \(type.rawValue)")
        }
    }

    private func tooManyValues(_ property: String) -> DecodeError {
        DecodeError("condition on \(property): in takes at most \(Self.maxInValues) values")
    }
}

/// The operators of SPEC §8, with the types each applies to.
enum QueryOp: String, CaseIterable {
    case eq, ne, lt, lte, gt, gte, `in`, contains
    case startsWith = "starts_with", withinDays = "within_days", isSet = "is_set", notSet = "not_set"

    /// Asked for every condition of every query: a switch, where a `Set` of types was built each time.
    func applies(to type: PropertyType) -> Bool {
        switch self {
        case .eq, .ne: type != .list
        case .lt, .lte, .gt, .gte, .in: type == .number || type == .date || type == .string
        case .contains: type == .list || type == .string
        case .startsWith: type == .string
        case .withinDays: type == .date
        case .isSet, .notSet: true
        }
    }

    var takesNoValue: Bool { self == .isSet || self == .notSet }
}

private extension PropertyValue {
    /// The text of a `.string` operand (``FilterDecoder`` made it one).
    var stringOperand: String {
        if case .string(let string) = self { return string }
        preconditionFailure("not a string operand")
    }
}
