import ArgumentParser
import Foundation
import OnceEngine
import Synchronization

struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply JSONL operations from stdin; write one JSON outcome per line to stdout, in input order.",
        discussion: """
            Each line: {"workspace": "...", "version": "live", "distinct_id": "...", "$once": {...}} with any \
            op keys ($once, $set, $add, $append, $remove, $unset). A malformed line yields an error outcome \
            and processing continues (unless --strict).
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var rules: RulesDirectoryOption

    @Flag(help: "Run rules and validation only, each line against an empty in-memory state; write nothing.")
    var dryRun = false

    @Flag(help: "Stop at the first line that fails; exit non-zero.")
    var strict = false

    @Option(help: "Lines processed concurrently (they share commits; output order is kept).")
    var window = 512

    @Option(help: "Longest accepted line, in bytes.")
    var maxLineBytes = 1024 * 1024

    func validate() throws {
        if dryRun && store.db != nil { throw ValidationError("--dry-run writes nothing: it takes no --db") }
        guard window > 0 else { throw ValidationError("--window must be positive") }
        guard maxLineBytes > 0 else { throw ValidationError("--max-line-bytes must be positive") }
    }

    func run() async throws {
        let rules = try rules.runtime()
        let engine = dryRun ? Engine(store: MemoryStore(), rules: rules) : try store.openEngine(rules: rules)
        let pipeline = ApplyPipeline(engine: engine, dryRun: dryRun, window: window, strict: strict, maxLineBytes: maxLineBytes)
        let summary = await pipeline.run()
        try await engine.close()
        printError(summary.line)
        if summary.storeFailures > 0 || (strict && summary.failed > 0) {
            throw ExitCode.failure
        }
    }
}

/// Where `apply` (and later `serve`) keep their data.
struct StoreOptions: ParsableArguments {
    @Option(help: "SQLite database file (default: ./onced.db).")
    var db: String?

    @Option(help: "SQLite durability: full (fsync every commit) or normal.")
    var synchronous: SQLiteStore.Durability = .full

    func openEngine(rules: RuleRuntime?) throws -> Engine {
        Engine(store: try openSQLite(), rules: rules)
    }

    func openSQLite() throws -> SQLiteStore {
        var options = SQLiteStore.Options()
        options.durability = synchronous
        do {
            return try SQLiteStore(path: db ?? "onced.db", options: options)
        } catch {
            throw ValidationError("cannot open \(db ?? "onced.db"): \(error)")
        }
    }
}

extension SQLiteStore.Durability: ExpressibleByArgument {}
