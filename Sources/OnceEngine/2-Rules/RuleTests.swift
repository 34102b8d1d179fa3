import Foundation

/// The result of running rules' own `tests` (SPEC §4).
public struct RuleTestReport: Sendable {
    /// Tests whose expectation held.
    public var passed = 0
    /// One line per failing test: the rule file, the test's index and the difference.
    public var failures: [String] = []
    /// Tests that failed.
    public var failed: Int { failures.count }
    /// `N passed, M failed`.
    public var summary: String { "\(passed) passed, \(failed) failed" }
}

extension RuleSet {
    /// Runs every rule's tests, each against that rule alone.
    public func runTests() -> RuleTestReport {
        var report = RuleTestReport()
        for (index, rule) in rules.enumerated() {
            for (number, test) in rule.tests.enumerated() {
                if let failure = runTest(test, ruleIndex: index) {
                    report.failures.append("\(rule.file): test \(number + 1): \(failure)")
                } else {
                    report.passed += 1
                }
            }
        }
        return report
    }

    /// Nil when the test passes, else what differed.
    private func runTest(_ test: JSON, ruleIndex: Int) -> String? {
        let rule = rules[ruleIndex]
        guard let fields = test.objectValue else { return "a test must be a table" }
        guard let input = object(fields["input"]) else { return "input must be a table of properties" }
        let expectsRejection = fields["request_rejected"] == .bool(true)
        let expected = fields["expect"].map(object)
        let expectedRejected = fields["rejected"].map { json -> [String]? in
            guard case .array(let names) = json else { return nil }
            return names.compactMap(\.stringValue)
        }
        guard expectsRejection || expected != nil || expectedRejected != nil else {
            return "a test needs expect, rejected or request_rejected"
        }
        let context: HookContext
        switch self.context(fields["ctx"], rule: rule) {
        case .success(let built): context = built
        case .failure(let problem): return problem.reason
        }
        var after = input.members.map { RuledProperty(name: $0.key, value: $0.value) }
        do {
            try pool.withState { state in try run(steps(in: context.namespace).filter { $0.index == ruleIndex }, on: &after, context: context, state: state) }
        } catch let rejection as RuleRejection {
            return expectsRejection ? nil : "the request was rejected: \(rejection.reason)"
        } catch {
            return "\(error)"
        }
        if expectsRejection { return "expected the request to be rejected; it was not" }
        let live = JSONObject(after.filter { $0.settled == nil }.map { .init($0.name, $0.value) }.sorted { $0.key < $1.key })
        if let expected {
            guard let expected else { return "expect must be a table of properties" }
            let sorted = JSONObject(expected.members.sorted { $0.key < $1.key })
            if sorted != live { return "expected \(JSON.object(sorted).text), got \(JSON.object(live).text)" }
        }
        if let expectedRejected {
            guard let expectedRejected else { return "rejected must be a list of names" }
            let rejected = after.compactMap { $0.settled?.name }.sorted()
            if rejected != expectedRejected.sorted() {
                return "expected rejected \(expectedRejected.sorted()), got \(rejected)"
            }
        }
        return nil
    }

    /// `{}` reads back from Lua as an empty array; for properties it means an empty object.
    private func object(_ json: JSON?) -> JSONObject? {
        switch json {
        case .object(let object)?: object
        case .array(let array)? where array.isEmpty: JSONObject()
        default: nil
        }
    }

    /// The test's `ctx`, with SPEC §4's defaults.
    private func context(_ json: JSON?, rule: Rule) -> Result<HookContext, InvalidValue> {
        let fields = object(json) ?? JSONObject()
        let workspace = fields["workspace"]?.stringValue ?? rule.workspaces?.sorted().first ?? "TEST"
        guard let version = Version(rawValue: fields["version"]?.stringValue ?? "live") else {
            return .failure(InvalidValue("ctx.version must be live or test"))
        }
        guard let op = Op(rawValue: fields["op"]?.stringValue ?? "set_once") else {
            return .failure(InvalidValue("ctx.op must be one of set_once, set, add, append, remove, unset"))
        }
        var types: [String: PropertyType] = [:]
        for member in object(fields["types"])?.members ?? [] {
            guard let type = member.value.stringValue.flatMap(PropertyType.init(rawValue:)) else {
                return .failure(InvalidValue("ctx.types.\(member.key) must be string, number, boolean, date or list"))
            }
            types[member.key] = type
        }
        return .success(HookContext(callID: HookContext.nextCallID(), namespace: Namespace(workspace: workspace, version: version),
                                    distinctID: fields["distinct_id"]?.stringValue ?? "test-user", op: op,
                                    requestID: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
                                    receivedAt: 0, types: types))
    }
}
