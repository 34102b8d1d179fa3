import ArgumentParser
import Foundation
import OnceEngine
import OncePostgres
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
    @OptionGroup var limits: RequestLimitOptions

    @Flag(help: "Run rules and validation only, each line against an empty in-memory state; write nothing.")
    var dryRun = false

    @Flag(help: "Stop at the first line that fails; exit non-zero.")
    var strict = false

    @Option(help: "Lines processed concurrently (they share commits; output order is kept).")
    var window = 512

    @Option(help: "Longest accepted line, in bytes.")
    var maxLineBytes = 1024 * 1024

    func validate() throws {
        if dryRun && store.isGiven { throw ValidationError("--dry-run writes nothing: it takes no --db or --postgres") }
        guard window > 0 else { throw ValidationError("--window must be positive") }
        guard maxLineBytes > 0 else { throw ValidationError("--max-line-bytes must be positive") }
    }

    func run() async throws {
        let rules = try rules.runtime()
        let engine = Engine(store: dryRun ? MemoryStore() : try await store.open(), rules: rules)
        let pipeline = ApplyPipeline(engine: engine, dryRun: dryRun, window: window, strict: strict, maxLineBytes: maxLineBytes,
                                     limits: limits.limits)
        let summary = await pipeline.run()
        try await engine.close()
        printError(summary.line)
        if summary.storeFailures > 0 || (strict && summary.failed > 0) {
            throw ExitCode.failure
        }
    }
}

/// Where `serve`, `apply` and `keys` keep their data: a SQLite file, or PostgreSQL.
struct StoreOptions: ParsableArguments {
    @Option(help: "SQLite database file (default: ./onced.db).")
    var db: String?

    @Option(help: "SQLite durability: full (fsync every commit) or normal.")
    var synchronous: SQLiteStore.Durability?

    @Option(name: .customLong("sqlite-cache-mib"), help: "SQLite's page cache per connection, in MiB (default: 64).")
    var sqliteCacheMiB: Int?

    @Option(help: ArgumentHelp(
        "PostgreSQL URL, postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require], instead of SQLite.",
        discussion: "Or set ONCED_POSTGRES_URL, which keeps a password out of the process list."))
    var postgres: String?

    private var postgresURL: String? { postgres ?? ProcessInfo.processInfo.environment["ONCED_POSTGRES_URL"] }

    /// Whether a store was named at all (`apply --dry-run` takes none).
    var isGiven: Bool { db != nil || postgresURL != nil }

    func validate() throws {
        if let mib = sqliteCacheMiB, !(1...65536).contains(mib) { throw ValidationError("--sqlite-cache-mib takes 1 to 65536") }
        guard let url = postgresURL else { return }
        if db != nil { throw ValidationError("--db and --postgres name two stores: give one") }
        if synchronous != nil || sqliteCacheMiB != nil { throw ValidationError("--synchronous and --sqlite-cache-mib are SQLite settings") }
        do { _ = try PostgresURL(url) } catch { throw ValidationError(error.description) }
    }

    /// The store named, migrated and ready; SQLite at ./onced.db when none is.
    func open() async throws -> any ProfileStore & KeyStore {
        if let url = postgresURL {
            let parsed = try PostgresURL(url)
            do {
                return try await PostgresStore.open(parsed)
            } catch {
                throw ValidationError("cannot open \(parsed): \(error)")
            }
        }
        var options = SQLiteStore.Options()
        options.durability = synchronous ?? .full
        options.pageCacheMiB = sqliteCacheMiB ?? options.pageCacheMiB
        // Migrating a large file takes a while: say so on stderr (stdout may carry outcomes).
        options.migrationProgress = { FileHandle.standardError.write(Data("onced: \($0)\n".utf8)) }
        do {
            return try SQLiteStore(path: db ?? "onced.db", options: options)
        } catch {
            throw ValidationError("cannot open \(db ?? "onced.db"): \(error)")
        }
    }
}

extension SQLiteStore.Durability: ExpressibleByArgument {}
