import Foundation
import Logging
import Synchronization

/// The rules in force, and their reloading (SPEC §4).
///
/// A reload compiles the directory into a new generation in fresh states and
/// runs every rule's tests; only if all load and pass does it replace the
/// current one. Otherwise the previous generation stays in force and the
/// error is kept for `/health`. Requests hold the generation they started
/// with, so a swap never splits a request.
public final class RuleRuntime: Sendable {
    /// The watched rules directory.
    public let directory: String
    /// Budgets for every generation.
    public let limits: RuleLimits
    /// Rule failures and budget aborts, across generations.
    public let stats = RuleStats()
    private let logger = Logger(label: "onced.rules")

    private struct State {
        var current: RuleSet
        var lastError: RuleSetError?
        var fingerprint: [String]
    }

    private let state: Mutex<State>
    private let reloading = Mutex(())

    /// Loads `directory`; fails if any rule fails to load or its tests fail.
    public init(directory: String, limits: RuleLimits = .init()) throws(RuleSetError) {
        self.directory = directory
        self.limits = limits
        let fingerprint = Self.fingerprint(of: directory)
        let set = try Self.compile(directory: directory, limits: limits, generation: 1, stats: stats)
        state = Mutex(State(current: set, lastError: nil, fingerprint: fingerprint))
    }

    /// The generation in force.
    public var current: RuleSet { state.withLock { $0.current } }
    /// The generation number in force.
    public var generation: Int { current.generation }
    /// Why the last reload failed, if it did (cleared by the next good one).
    public var lastError: RuleSetError? { state.withLock { $0.lastError } }

    /// Compiles and tests the directory; installs it as the next generation if it is sound.
    @discardableResult
    public func reload() -> Result<Int, RuleSetError> {
        reloading.withLock { _ in
            let fingerprint = Self.fingerprint(of: directory)
            let next = state.withLock { $0.current.generation + 1 }
            let compiled = Result { () throws(RuleSetError) -> RuleSet in
                try Self.compile(directory: directory, limits: limits, generation: next, stats: stats)
            }
            switch compiled {
            case .success(let set):
                state.withLock {
                    $0.current = set
                    $0.lastError = nil
                    $0.fingerprint = fingerprint
                }
                EngineMetrics.ruleReloads.increment()
                logger.info("rules reloaded", metadata: ["generation": "\(next)", "rules": "\(set.rules.count)"])
                return .success(next)
            case .failure(let error):
                state.withLock {
                    $0.lastError = error
                    $0.fingerprint = fingerprint
                }
                EngineMetrics.ruleReloadFailures.increment()
                logger.warning("rules not reloaded; the previous generation stays in force", metadata: ["error": "\(error)"])
                return .failure(error)
            }
        }
    }

    /// Reloads whenever a `*.lua` file of the directory is added, removed or changed,
    /// until the returned watch is cancelled. Polls, so it works the same on every
    /// file system, from a thread of its own: a busy cooperative pool (every request
    /// runs its rules there) must not delay a reload.
    public func watch(every interval: Duration = .milliseconds(250)) -> RuleWatch {
        let watch = RuleWatch()
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        let thread = Thread { [self] in
            while !watch.isCancelled {
                Thread.sleep(forTimeInterval: seconds)
                let seen = state.withLock { $0.fingerprint }
                if !watch.isCancelled, Self.fingerprint(of: directory) != seen { reload() }
            }
        }
        thread.name = "onced.rules.watch"
        thread.start()
        return watch
    }

    private static func compile(directory: String, limits: RuleLimits, generation: Int, stats: RuleStats) throws(RuleSetError) -> RuleSet {
        let set = try RuleSet(directory: directory, limits: limits, generation: generation, stats: stats)
        let report = set.runTests()
        guard report.failed == 0 else {
            throw RuleSetError(report.failures.map { failure in
                let file = failure.split(separator: ":").first.map(String.init) ?? directory
                return RuleLoadError(file: file, message: "rule test failed: " + failure.dropFirst(file.count + 2))
            })
        }
        return set
    }

    /// Names, sizes and modification times of the rule files: what a change changes.
    static func fingerprint(of directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".lua") && !$0.hasPrefix(".") }.sorted().map { name in
            let attributes = try? FileManager.default.attributesOfItem(atPath: (directory as NSString).appendingPathComponent(name))
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(name):\(size):\(modified)"
        }
    }
}

/// A running ``RuleRuntime/watch(every:)``; it stops within one interval of ``cancel()``.
public final class RuleWatch: Sendable {
    private let cancelled = Mutex(false)

    var isCancelled: Bool { cancelled.withLock { $0 } }

    /// Stops watching.
    public func cancel() {
        cancelled.withLock { $0 = true }
    }
}
