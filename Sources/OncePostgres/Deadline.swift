import OnceEngine
import Synchronization

/// Runs async PostgreSQL work with a deadline that holds even when the work
/// ignores cancellation (a query on a connection whose server stopped
/// answering): the caller gets ``StoreError/unavailable`` on time and the
/// stuck task is left to finish, or fail, on its own.
enum Deadline {
    static func run<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let settled = Settled<T>()
        return try await withCheckedThrowingContinuation { continuation in
            settled.arm(continuation)
            let work = Task { settled.finish(await Result(catching: body)) }
            Task {
                try? await Task.sleep(for: .seconds(seconds))
                if settled.finish(.failure(StoreError.unavailable("PostgreSQL did not answer within \(seconds) s"))) {
                    work.cancel()
                }
            }
        }
    }

    /// Resumes the continuation with whichever result comes first.
    private final class Settled<T: Sendable>: Sendable {
        private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

        func arm(_ continuation: CheckedContinuation<T, any Error>) {
            self.continuation.withLock { $0 = continuation }
        }

        @discardableResult
        func finish(_ result: Result<T, any Error>) -> Bool {
            guard let continuation = continuation.withLock({ state in defer { state = nil }; return state }) else { return false }
            continuation.resume(with: result)
            return true
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
