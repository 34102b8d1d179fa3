import Foundation

/// A database written by an earlier release, with the outcomes and the key it
/// printed (each fixture's README says how it was made): `storage-v1`, the
/// release before key ids, `storage-v3`, the last release of storage v1, and
/// `storage-v4`, the last release before migration v5 (SPEC §9's lifecycle).
struct StorageFixture {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fixtures").standardized

    /// The copy's path: tests never change the committed file.
    var database: String
    /// The persistent key it holds, for FY12345678.
    var key: String
    /// The outcome lines `onced apply` printed when it was written.
    var outcomes: [String]

    /// Where the fixture's other files are.
    var directory: URL

    static func copy(_ name: String = "storage-v1", to temporary: TemporaryDirectory) throws -> StorageFixture {
        let directory = fixtures.appendingPathComponent(name)
        let database = temporary.path("onced.db")
        try FileManager.default.copyItem(atPath: directory.appendingPathComponent("onced.db").path, toPath: database)
        func text(_ name: String) throws -> String {
            try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
        }
        return StorageFixture(database: database, key: try text("key.txt").trimmingCharacters(in: .whitespacesAndNewlines),
                              outcomes: try text("outcomes.jsonl").split(separator: "\n").map(String.init), directory: directory)
    }
}

extension StorageFixture {
    /// One line of the fixture's file `name` per element.
    func lines(_ name: String) throws -> [String] {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8).split(separator: "\n").map(String.init)
    }
}
