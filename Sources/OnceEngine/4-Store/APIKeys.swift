import Crypto
import Foundation

/// API keys: random, shown once, stored only as SHA-256 hashes.
public enum APIKey {
    /// A new key: `onced_` and 32 random bytes in hex.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return "onced_" + hex(bytes)
    }

    /// The hex SHA-256 of a key: what is stored and compared.
    /// Runs on every authenticated request: no `String(format:)` here, which cost
    /// more than the hash itself (15 % of the daemon's CPU under load).
    public static func hash(_ key: String) -> String {
        hex(SHA256.hash(data: Array(key.utf8)))
    }

    private static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        for byte in bytes { Hex.append(byte, to: &text) }
        return String(decoding: text, as: UTF8.self)
    }

    /// Compares two hashes in time independent of where they differ.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}

/// Where hashed keys persist (the SQLite store is one).
public protocol KeyStore: Sendable {
    /// Stores a key's hash for `workspace`.
    func addKey(hash: String, workspace: String) async throws
    /// The workspace a key hash belongs to, if any.
    func workspace(forKeyHash hash: String) async throws -> String?
}

/// Resolves bearer tokens to their workspace: keys in the store, plus
/// development keys given on the command line (held hashed too).
public final class KeyRing: Sendable {
    private let store: (any KeyStore)?
    private let developmentKeys: [(hash: String, workspace: String)]

    /// - Parameter developmentKeys: `(workspace, key)` pairs, e.g. from `--api-key WSID:KEY`.
    public init(store: (any KeyStore)?, developmentKeys: [(workspace: String, key: String)] = []) {
        self.store = store
        self.developmentKeys = developmentKeys.map { (APIKey.hash($0.key), $0.workspace) }
    }

    /// Whether `token` is a key of `workspace`. Every way of failing looks the same to the caller.
    public func authorizes(_ token: String, for workspace: String) async throws -> Bool {
        let hash = APIKey.hash(token)
        var owner: String?
        for key in developmentKeys where APIKey.constantTimeEqual(key.hash, hash) { owner = key.workspace }
        if owner == nil, let store { owner = try await store.workspace(forKeyHash: hash) }
        return owner == workspace
    }
}
