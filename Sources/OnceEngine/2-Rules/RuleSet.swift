import Foundation
import Synchronization

/// A rule file as read from the rules directory.
public struct RuleSource: Sendable, Equatable {
    /// The file name, e.g. `10-dates.lua`.
    public var file: String
    /// The Lua text.
    public var source: String

    /// Creates a value from its parts.
    public init(file: String, source: String) {
        self.file = file
        self.source = source
    }

    /// The largest rule file accepted.
    public static let maxBytes = 1024 * 1024

    /// The `*.lua` files of `directory`, in lexical order of their names (hidden files skipped).
    public static func read(directory: String) throws(RuleSetError) -> [RuleSource] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw RuleSetError([RuleLoadError(file: directory, message: "cannot read the rules directory: \(error.localizedDescription)")])
        }
        var sources: [RuleSource] = []
        var errors: [RuleLoadError] = []
        for name in names.filter({ $0.hasSuffix(".lua") && !$0.hasPrefix(".") }).sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                errors.append(RuleLoadError(file: name, message: "cannot read the file"))
                continue
            }
            guard data.count <= maxBytes else {
                errors.append(RuleLoadError(file: name, message: "larger than \(maxBytes) bytes"))
                continue
            }
            sources.append(RuleSource(file: name, source: String(decoding: data, as: UTF8.self)))
        }
        guard errors.isEmpty else { throw RuleSetError(errors) }
        return sources
    }
}

/// Why a rule set did not load: every file's error, not only the first.
public struct RuleSetError: Error, Sendable, CustomStringConvertible {
    /// One per broken file (or failing test).
    public var errors: [RuleLoadError]
    /// Creates a value from its parts.
    public init(_ errors: [RuleLoadError]) { self.errors = errors }
    /// One line per error.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// One generation of rules: their declarations and the states that run them.
/// A request is processed wholly by the generation it started with.
public final class RuleSet: Sendable {
    /// 1 for the first load, one more for each successful reload.
    public let generation: Int
    /// In lexical order of their files.
    public let rules: [Rule]
    /// What was compiled.
    public let sources: [RuleSource]
    /// The budgets every hook call runs under.
    public let limits: RuleLimits
    /// Whether any rule calls `ctx.type_of`; if none does, requests skip loading the registry.
    let usesTypes: Bool
    let pool: LuaStatePool
    let stats: RuleStats
    /// Every rule, as the chain runs it.
    let allSteps: [ChainStep]
    /// Whether any rule names its workspaces (else every request runs `allSteps`).
    let filtersWorkspaces: Bool

    /// Compiles `sources` in a fresh state; throws every file's load error.
    public init(sources: [RuleSource], limits: RuleLimits = .init(), generation: Int = 1,
                poolCapacity: Int = ProcessInfo.processInfo.activeProcessorCount * 2, stats: RuleStats = RuleStats()) throws(RuleSetError) {
        let first: LuaState
        do {
            first = try LuaState(limits: limits)
        } catch {
            throw RuleSetError([error])
        }
        var rules: [Rule] = []
        var errors: [RuleLoadError] = []
        for source in sources {
            do {
                rules.append(try first.load(file: source.file, source: source.source))
            } catch {
                errors.append(error)
            }
        }
        guard errors.isEmpty else { throw RuleSetError(errors) }
        self.generation = generation
        self.rules = rules
        self.allSteps = rules.indices.map { ChainStep(rules[$0], at: $0) }
        self.filtersWorkspaces = rules.contains { $0.workspaces != nil }
        self.sources = sources
        self.limits = limits
        self.stats = stats
        usesTypes = sources.contains { $0.source.contains("type_of") }
        pool = LuaStatePool(capacity: max(poolCapacity, 1), initial: [first]) { () throws(RuleLoadError) -> LuaState in
            let state = try LuaState(limits: limits)
            for source in sources { _ = try state.load(file: source.file, source: source.source) }
            return state
        }
    }

    /// The rules that run for requests of `namespace`.
    func steps(in namespace: Namespace) -> [ChainStep] {
        guard filtersWorkspaces else { return allSteps }
        return allSteps.filter { rules[$0.index].workspaces?.contains(namespace.workspace) ?? true }
    }

    /// Loads the `*.lua` files of `directory`.
    public convenience init(directory: String, limits: RuleLimits = .init(), generation: Int = 1, stats: RuleStats = RuleStats()) throws(RuleSetError) {
        try self.init(sources: RuleSource.read(directory: directory), limits: limits, generation: generation, stats: stats)
    }
}

/// Counters of rule trouble, for metrics and health.
public final class RuleStats: Sendable {
    private let counters = Mutex<(failures: Int, budgetAborts: Int)>((0, 0))

    /// Zeroed counters.
    public init() {}

    func recordFailure(_ message: String) {
        let budget = message.contains("budget") || message.contains("memory limit")
        counters.withLock {
            $0.failures += 1
            if budget { $0.budgetAborts += 1 }
        }
        EngineMetrics.ruleFailures.increment()
        if budget { EngineMetrics.ruleBudgetAborts.increment() }
    }

    /// Hook calls that failed (errors, bad returns, budgets), and of those, budget aborts.
    public var failures: Int { counters.withLock { $0.failures } }
    /// Hook calls stopped by a CPU budget or the memory cap.
    public var budgetAborts: Int { counters.withLock { $0.budgetAborts } }
}

/// What the chain asks of a rule for each op, without copying the rule (its
/// strings and sets cost retains) or hashing the op into a set.
struct ChainStep {
    let index: Int
    /// The ops the rule runs for, as ``bit(_:)``s.
    let ops: UInt8
    let hasRequestHook: Bool
    let hasPropertyHook: Bool
    let hasPattern: Bool

    init(_ rule: Rule, at index: Int) {
        self.index = index
        ops = rule.ops.reduce(0) { $0 | Self.bit($1) }
        hasRequestHook = rule.hasRequestHook
        hasPropertyHook = rule.hasPropertyHook
        hasPattern = rule.propertyPattern != nil
    }

    func runs(for op: Op) -> Bool { ops & Self.bit(op) != 0 }

    static func bit(_ op: Op) -> UInt8 {
        switch op {
        case .setOnce: 1
        case .set: 2
        case .add: 4
        case .append: 8
        case .remove: 16
        case .unset: 32
        }
    }
}
