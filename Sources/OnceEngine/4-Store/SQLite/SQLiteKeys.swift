import Foundation
import GRDB

/// Keys are rare and written at once, outside the group commit.
extension SQLiteStore: KeyStore {
    public func addKey(id: String, hash: String, workspace: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "INSERT INTO api_keys (id, key_hash, workspace, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [id, hash, workspace, Date().epochMilliseconds])
        }
    }

    public func key(forHash hash: String) async throws -> APIKeyInfo? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.keyColumns) FROM api_keys WHERE key_hash = ?", arguments: [hash])
                .map(Self.keyInfo)
        }
    }

    public func keys(in workspace: String) async throws -> [APIKeyInfo] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.keyColumns) FROM api_keys WHERE workspace = ? ORDER BY created_at, id",
                             arguments: [workspace]).map(Self.keyInfo)
        }
    }

    public func revokeKey(id: String) async throws -> APIKeyInfo? {
        try await pool.write { db in
            try db.execute(sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                           arguments: [Date().epochMilliseconds, id])
            return try Row.fetchOne(db, sql: "SELECT \(Self.keyColumns) FROM api_keys WHERE id = ?", arguments: [id])
                .map(Self.keyInfo)
        }
    }

    private static let keyColumns = "id, workspace, created_at, revoked_at"

    private static func keyInfo(_ row: Row) -> APIKeyInfo {
        APIKeyInfo(id: row[0], workspace: row[1], createdAt: Date(epochMilliseconds: row[2]),
                   revokedAt: (row[3] as Int64?).map { Date(epochMilliseconds: $0) })
    }
}
