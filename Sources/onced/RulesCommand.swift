import ArgumentParser
import Foundation
import OnceEngine

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Check and test a rules directory, or diff two over real writes.",
        subcommands: [Check.self, Test.self, RulesDiff.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load every rule; report errors as file:line: message.")

        @Argument(help: "The rules directory.")
        var directory: String

        @OptionGroup var limits: RuleLimitOptions

        func run() throws {
            let set = try loadRules(directory, limits: limits.limits)
            print("\(set.rules.count) rules loaded: " + set.rules.map { "\($0.file) (\($0.name))" }.joined(separator: ", "))
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run every rule's tests; print N passed, M failed.")

        @Argument(help: "The rules directory.")
        var directory: String

        @OptionGroup var limits: RuleLimitOptions

        func run() throws {
            let report = try loadRules(directory, limits: limits.limits).runTests()
            for failure in report.failures { print("FAIL " + (directory as NSString).appendingPathComponent(failure)) }
            print(report.summary)
            if report.failed > 0 { throw ExitCode.failure }
        }
    }
}

/// Loads a rules directory or exits with each error as `DIR/file:line: message`.
func loadRules(_ directory: String, limits: RuleLimits) throws -> RuleSet {
    do {
        return try RuleSet(directory: directory, limits: limits)
    } catch {
        printRuleErrors(error, in: directory)
        throw ExitCode.failure
    }
}

/// Each error as `DIR/file:line: message` on stderr.
func printRuleErrors(_ error: RuleSetError, in directory: String) {
    for problem in error.errors {
        let path = problem.file == directory ? directory : (directory as NSString).appendingPathComponent(problem.file)
        printError(problem.line > 0 ? "\(path):\(problem.line): \(problem.message)" : "\(path): \(problem.message)")
    }
}

/// The rule budgets, for every command that runs rules.
struct RuleLimitOptions: ParsableArguments {
    @Option(help: "CPU time one hook call may take, in milliseconds.")
    var ruleTimeoutMs = 10

    @Option(help: "CPU time all of one request's hook calls may take together, in milliseconds.")
    var requestRuleBudgetMs = 250

    @Option(help: "Memory per Lua state, in MiB.")
    var ruleMemoryMib = RuleLimits().memoryBytes / (1024 * 1024)

    /// The instruction budget is gone: CPU time replaced it (SPEC §4). Kept only to say so.
    @Option(help: .hidden)
    var ruleInstructions: String?

    var limits: RuleLimits {
        RuleLimits(callTimeout: .milliseconds(ruleTimeoutMs), requestBudget: .milliseconds(requestRuleBudgetMs),
                   memoryBytes: ruleMemoryMib * 1024 * 1024)
    }

    /// The runtime for `directory` under these budgets; its errors printed, exit 1, when it does not load.
    func runtime(directory: String) throws -> RuleRuntime {
        do {
            return try RuleRuntime(directory: directory, limits: limits)
        } catch {
            printRuleErrors(error, in: directory)
            throw ExitCode.failure
        }
    }

    func validate() throws {
        if ruleInstructions != nil {
            throw ValidationError("--rule-instructions is gone: rule budgets are CPU time now; "
                                  + "use --rule-timeout-ms (per hook call) and --request-rule-budget-ms (per request)")
        }
        guard ruleTimeoutMs > 0 else { throw ValidationError("--rule-timeout-ms must be positive") }
        guard requestRuleBudgetMs > 0 else { throw ValidationError("--request-rule-budget-ms must be positive") }
        guard ruleMemoryMib > 0 else { throw ValidationError("--rule-memory-mib must be positive") }
    }
}

/// `--rules DIR` for the commands that process requests.
struct RulesDirectoryOption: ParsableArguments {
    @Option(help: "The rules directory (default: ./rules when it exists; none otherwise).")
    var rules: String?

    @OptionGroup var limits: RuleLimitOptions

    /// The runtime for the chosen directory; nil when none was asked for and ./rules does not exist.
    func runtime() throws -> RuleRuntime? {
        var isDirectory: ObjCBool = false
        let directory = rules ?? "rules"
        if rules == nil && !(FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue) {
            return nil
        }
        return try limits.runtime(directory: directory)
    }
}
