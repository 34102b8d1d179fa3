import Foundation

/// `Tests/Fixtures/storage-v1`: a database written by the release before key
/// ids, with the outcomes and the key it printed (its README says how it was made).
struct StorageFixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fixtures/storage-v1").standardized

    /// The copy's path: tests never change the committed file.
    var database: String
    /// The persistent key it holds, for FY12345678.
    var key: String
    /// The outcome lines `onced apply` printed when it was written.
    var outcomes: [String]

    static func copy(to directory: TemporaryDirectory) throws -> StorageFixture {
        let database = directory.path("onced.db")
        try FileManager.default.copyItem(atPath: Self.directory.appendingPathComponent("onced.db").path, toPath: database)
        func text(_ name: String) throws -> String {
            try String(contentsOf: Self.directory.appendingPathComponent(name), encoding: .utf8)
        }
        return StorageFixture(database: database, key: try text("key.txt").trimmingCharacters(in: .whitespacesAndNewlines),
                              outcomes: try text("outcomes.jsonl").split(separator: "\n").map(String.init))
    }
}
