import Foundation

/// A profile as stored: `GET …/profiles/{distinct_id}`.
public struct Profile: Sendable, Equatable {
    /// The profile's id in its namespace.
    public var distinctID: String
    /// Sorted by property name.
    public var properties: [(name: String, value: PropertyValue)]
    /// When the first write named it.
    public var createdAt: Date
    /// When a stored value last changed.
    public var updatedAt: Date
    /// The request that last changed each property, where the store knows it
    /// (values migrated from before storage v2 have none): SPEC §9's provenance.
    public var lastChangedBy: [String: UUID] = [:]

    /// Creates a value from its parts.
    public init(distinctID: String, properties: [(name: String, value: PropertyValue)], createdAt: Date, updatedAt: Date) {
        self.distinctID = distinctID
        self.properties = properties
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The value of one property, or nil when unset.
    public subscript(name: String) -> PropertyValue? {
        properties.first { $0.name == name }?.value
    }

    /// Same id, times and properties (tuples are not Equatable, hence by hand).
    public static func == (lhs: Profile, rhs: Profile) -> Bool {
        lhs.distinctID == rhs.distinctID && lhs.createdAt == rhs.createdAt && lhs.updatedAt == rhs.updatedAt
            && lhs.properties.map(\.name) == rhs.properties.map(\.name)
            && lhs.properties.map(\.value) == rhs.properties.map(\.value)
    }
}

/// Where profiles, registered types and request records live.
///
/// The pipeline sees only this protocol. An implementation must apply each
/// request atomically (all its effects or none), make it durable before
/// `apply` returns, and decide set-once and type registration inside the
/// store — conditional statements, never a read in Swift followed by a write
/// another process could race.
public protocol ProfileStore: Sendable {
    /// Applies one request and returns its record, once durable.
    func apply(_ request: PreparedRequest) async throws -> RequestRecord
    /// Applies one request as ``apply(_:)`` does and hands its result to `done`,
    /// from any thread: a caller that is not a task needs none per write.
    /// The default runs ``apply(_:)`` in a task.
    func apply(_ request: PreparedRequest, then done: @escaping @Sendable (Result<RequestRecord, any Error>) -> Void)
    /// Applies each request as ``apply(_:)`` does (each atomic on its own), with
    /// one result per request, in order. The default applies them concurrently.
    func apply(contentsOf requests: [PreparedRequest]) async -> [Result<RequestRecord, any Error>]
    func profile(_ distinctID: String, in namespace: Namespace) async throws -> Profile?
    func record(_ requestID: UUID, in namespace: Namespace) async throws -> RequestRecord?
    func registeredTypes(in namespace: Namespace) async throws -> [String: PropertyType]
    /// SPEC §8: the page of profiles of the namespace that the query in `body`
    /// selects (checked against the types the store's read sees), in
    /// distinct_id byte order after its cursor. Runs on a reader, never in the
    /// way of writes; past `timeout` it stops and throws ``StoreError/queryTimeout``.
    func page(_ body: QueryBody, in namespace: Namespace, timeout: Duration) async throws -> QueryPage
    /// How many profiles of the namespace the count in `body` selects, checked and timed alike.
    func count(_ body: QueryBody, in namespace: Namespace, timeout: Duration) async throws -> Int
    /// Deletes up to `limit` request records received before `cutoff`, in one
    /// short step; how many it deleted (SPEC §5's record retention).
    func deleteRecords(receivedBefore cutoff: Date, limit: Int) async throws -> Int
    /// Deletes up to `limit` stored values of properties dropped earlier (they
    /// are invisible already), in one short step; false once none is left.
    func reclaimDroppedValues(limit: Int) async throws -> Bool
    /// Waits for writes in flight, then releases the store. Later calls fail.
    func close() async throws
    /// Why the store refuses every write until restart (``StoreError/degraded(_:)``), or nil while it is healthy.
    var fault: String? { get }
}

extension ProfileStore {
    public var fault: String? { nil }

    public func apply(_ request: PreparedRequest, then done: @escaping @Sendable (Result<RequestRecord, any Error>) -> Void) {
        applyInTask(request, then: done)
    }

    /// ``apply(_:)`` in a task, its result handed to `done`: the callback form
    /// for a store, or a request, that has to wait on something.
    func applyInTask(_ request: PreparedRequest, then done: @escaping @Sendable (Result<RequestRecord, any Error>) -> Void) {
        Task {
            do {
                done(.success(try await apply(request)))
            } catch {
                done(.failure(error))
            }
        }
    }

    public func apply(contentsOf requests: [PreparedRequest]) async -> [Result<RequestRecord, any Error>] {
        await withTaskGroup(of: (Int, Result<RequestRecord, any Error>).self) { group in
            for (index, request) in requests.enumerated() {
                group.addTask {
                    do {
                        return (index, .success(try await self.apply(request)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var results = [Result<RequestRecord, any Error>?](repeating: nil, count: requests.count)
            for await (index, result) in group { results[index] = result }
            return results.map { $0! }
        }
    }
}

/// A store that cannot do what was asked.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    case closed
    case corrupt(String)
    /// The store's server cannot be reached now; nothing of the request was
    /// acknowledged. Worth retrying later.
    case unavailable(String)
    /// More requests are waiting for a commit than the store queues; nothing of
    /// this one was applied. Worth retrying after a pause.
    case overloaded
    /// A write failed on I/O (a full disk, a failed fsync): the store refuses
    /// every write until the process restarts, and nothing of this one was acknowledged.
    case degraded(String)
    /// A query or count ran past its time limit and was stopped; nothing was changed.
    case queryTimeout

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .closed: "the store is closed"
        case .corrupt(let detail): "unexpected data in the store: \(detail)"
        case .unavailable(let detail): "the store is unavailable: \(detail)"
        case .overloaded: "too many requests are waiting for a commit"
        case .degraded(let reason): "writes are refused until restart after a disk failure (\(reason))"
        case .queryTimeout: "the query ran past its time limit"
        }
    }
}
