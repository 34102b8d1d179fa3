import Foundation
import OnceEngine
import PostgresNIO

/// Keys are rare and written at once, outside the group commits, through the pool.
extension PostgresStore: KeyStore {
    public func addKey(id: String, hash: String, workspace: String) async throws {
        let now = Date().epochMilliseconds
        try await pooled { client, logger in
            try await client.query("""
                INSERT INTO api_keys (id, key_hash, workspace, created_at) VALUES (\(id), \(hash), \(workspace), \(now))
                """, logger: logger)
            return ()
        }
    }

    public func key(forHash hash: String) async throws -> APIKeyInfo? {
        try await pooled { client, logger in
            try await client.query("""
                SELECT id, workspace, created_at, revoked_at FROM api_keys WHERE key_hash = \(hash)
                """, logger: logger).collect().first.map(Self.keyInfo)
        }
    }

    public func keys(in workspace: String) async throws -> [APIKeyInfo] {
        try await pooled { client, logger in
            try await client.query("""
                SELECT id, workspace, created_at, revoked_at FROM api_keys WHERE workspace = \(workspace) ORDER BY created_at, id
                """, logger: logger).collect().map(Self.keyInfo)
        }
    }

    public func revokeKey(id: String) async throws -> APIKeyInfo? {
        let now = Date().epochMilliseconds
        return try await pooled { client, logger in
            try await client.query("UPDATE api_keys SET revoked_at = \(now) WHERE id = \(id) AND revoked_at IS NULL",
                                   logger: logger)
            return try await client.query("""
                SELECT id, workspace, created_at, revoked_at FROM api_keys WHERE id = \(id)
                """, logger: logger).collect().first.map(Self.keyInfo)
        }
    }

    private static func keyInfo(_ row: PostgresRow) throws -> APIKeyInfo {
        let (id, workspace, created, revoked) = try row.decode((String, String, Int64, Int64?).self)
        return APIKeyInfo(id: id, workspace: workspace, createdAt: Date(epochMilliseconds: created),
                          revokedAt: revoked.map { Date(epochMilliseconds: $0) })
    }
}
