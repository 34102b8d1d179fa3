import Crypto
import Foundation
import Synchronization

/// API keys: random, shown once, stored only as SHA-256 hashes, each with an
/// id (`key_…`) that names it in `keys list` and `keys revoke` without being it.
public enum APIKey {
    /// A new key: `onced_` and 32 random bytes in hex.
    public static func generate() -> String {
        "onced_" + hex(randomBytes(32))
    }

    /// A new key id: `key_` and 8 random bytes in hex. Ids are not secret.
    public static func newID() -> String {
        "key_" + hex(randomBytes(8))
    }

    private static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// The hex SHA-256 of a key: what is stored and compared.
    /// Runs on every authenticated request: no `String(format:)` here, which cost more than the hash itself.
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

/// A stored key as `keys list` shows it: never the key, never its hash.
public struct APIKeyInfo: Sendable, Equatable {
    public var id: String
    public var workspace: String
    public var createdAt: Date
    /// Nil while the key is valid.
    public var revokedAt: Date?

    public init(id: String, workspace: String, createdAt: Date, revokedAt: Date? = nil) {
        self.id = id
        self.workspace = workspace
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// Where hashed keys persist (both stores are one).
public protocol KeyStore: Sendable {
    /// Stores a new key's hash under `id` for `workspace`.
    func addKey(id: String, hash: String, workspace: String) async throws
    /// The key whose hash this is, revoked or not.
    func key(forHash hash: String) async throws -> APIKeyInfo?
    /// The workspace's keys, oldest first.
    func keys(in workspace: String) async throws -> [APIKeyInfo]
    /// Revokes the key with this id (again: no change). Nil when there is no such key.
    func revokeKey(id: String) async throws -> APIKeyInfo?
}

/// Resolves bearer tokens to their workspace: keys in the store, plus
/// development keys given on the command line (held hashed too).
///
/// A key found in the store is remembered for ``recheckInterval``, so a busy
/// key costs one store read per interval rather than one per request; a
/// revocation therefore takes effect in every process within that interval
/// (SPEC §5: 5 s). Unknown keys are not remembered: a key created a moment ago
/// works at once, and a flood of wrong keys cannot grow the memory.
public final class KeyRing: Sendable {
    private struct Verified {
        var workspace: String?
        var checkedAt: ContinuousClock.Instant
    }

    private let store: (any KeyStore)?
    private let developmentKeys: [(hash: String, workspace: String)]
    private let verified = Mutex<[String: Verified]>([:])
    public let recheckInterval: Duration
    /// Keys remembered at most; past it the memory starts afresh.
    static let capacity = 10_000

    /// - Parameter developmentKeys: `(workspace, key)` pairs, e.g. from `--api-key WSID:KEY`.
    public init(store: (any KeyStore)?, developmentKeys: [(workspace: String, key: String)] = [],
                recheckInterval: Duration = .seconds(2)) {
        self.store = store
        self.developmentKeys = developmentKeys.map { (APIKey.hash($0.key), $0.workspace) }
        self.recheckInterval = recheckInterval
    }

    /// Whether `token` is a valid key of `workspace`. Every way of failing looks the same to the caller.
    public func authorizes(_ token: String, for workspace: String) async throws -> Bool {
        let hash = APIKey.hash(token)
        if let known = knownOwner(hash) { return known == workspace }
        guard let store else { return false }
        return try await storedOwner(hash, store) == workspace
    }

    /// ``authorizes(_:for:)`` without waiting, for a caller that must not (an
    /// event loop): nil when the answer needs a read of the store.
    public func authorizesNow(_ token: String, for workspace: String) -> Bool? {
        let hash = APIKey.hash(token)
        if let known = knownOwner(hash) { return known == workspace }
        return store == nil ? false : nil
    }

    /// The workspace of a development key, or what is remembered of a stored key
    /// (nil inside: revoked); nil when nothing is known without a read.
    private func knownOwner(_ hash: String) -> String?? {
        var owner: String?
        for key in developmentKeys where APIKey.constantTimeEqual(key.hash, hash) { owner = key.workspace }
        if let owner { return owner }
        let now = ContinuousClock.now
        if let known = verified.withLock({ $0[hash] }), now - known.checkedAt < recheckInterval { return .some(known.workspace) }
        return nil
    }

    /// The workspace of a stored, unrevoked key, read from the store and remembered.
    private func storedOwner(_ hash: String, _ store: any KeyStore) async throws -> String? {
        let now = ContinuousClock.now
        guard let key = try await store.key(forHash: hash) else {
            _ = verified.withLock { $0.removeValue(forKey: hash) }
            return nil
        }
        let owner = key.revokedAt == nil ? key.workspace : nil
        verified.withLock { verified in
            if verified.count >= Self.capacity { verified.removeAll(keepingCapacity: true) }
            verified[hash] = Verified(workspace: owner, checkedAt: now)
        }
        return owner
    }
}
