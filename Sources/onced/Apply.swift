import ArgumentParser
import Foundation
import OnceEngine

struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply JSONL operations from stdin; write one JSON outcome per line to stdout."
    )

    @Option(help: "SQLite database file.")
    var db = "onced.db"

    func run() async throws {
        let engine = try Engine(sqlitePath: db)
        _ = engine
    }
}
