import Foundation
import Testing
@testable import OnceEngine

@Suite struct WALCheckpointTests {
    /// In WAL mode only a checkpoint writes the database file. These commits
    /// leave far fewer pages in the WAL than even SQLite's default automatic
    /// checkpoint (1,000) waits for, so the file grows only if the background
    /// checkpointer copies them — while the store stays open.
    @Test func committedPagesReachTheFileWhileTheStoreIsOpen() async throws {
        let engine = try await TestEngine(.sqlite)
        let before = try fileSize(engine.dbPath)
        for index in 0..<50 {
            try await engine.submit(#"{"$once": {"plan": "pro", "n": \#(index)}}"#, distinctID: "user-\(index)")
        }
        let deadline = ContinuousClock.now + .seconds(20)
        while try fileSize(engine.dbPath) <= before && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try fileSize(engine.dbPath) > before, "no checkpoint copied the WAL into the file")
        #expect(try fileSize(engine.dbPath + "-wal") > 0, "the WAL was emptied: a close, not a background checkpoint")
        #expect(try await engine.value("n", of: "user-49") == .integer(49))
        try await engine.engine.close()
    }

    /// A clean close leaves no WAL behind, even after queries (which have a
    /// read-only connection of their own): the next process to open the file,
    /// such as an export, reads the database file alone.
    @Test func aCloseEmptiesTheWALAfterQueries() async throws {
        let engine = try await TestEngine(.sqlite)
        for index in 0..<50 {
            try await engine.submit(#"{"$once": {"plan": "pro", "n": \#(index)}}"#, distinctID: "user-\(index)")
        }
        let count = try await engine.engine.count(JSONParser.parse(#"{"where": {"property": "plan", "op": "eq", "value": "pro"}}"#),
                                                  in: TestEngine.namespace, timeout: .seconds(10))
        #expect(count == 50)
        try await engine.engine.close()
        #expect(!FileManager.default.fileExists(atPath: engine.dbPath + "-wal"), "a WAL of \((try? fileSize(engine.dbPath + "-wal")) ?? 0) bytes was left")
        let reopened = try Engine(sqlitePath: engine.dbPath)
        #expect(try await reopened.profile("user-49", in: TestEngine.namespace)?["n"] == .integer(49))
        try await reopened.close()
    }

    private func fileSize(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
    }
}
