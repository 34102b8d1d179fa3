import CSpawn
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A child process for the tests, spawned and reaped without Foundation's `Process`.
///
/// Why not `Process`: it learns of a child's exit through a socket the child
/// inherits, and closes the parent's other descriptors in the child from a
/// list taken just before the spawn. Tests spawn from many threads at once, so
/// a daemon could inherit a descriptor created meanwhile for another child —
/// that child's exit, or the end of its output, was then never seen and the
/// run hung. Here the child keeps only its three standard descriptors (closed
/// from 3 up at exec, atomically), pipes are close-on-exec in the parent, one
/// thread reaps the child with `waitpid`, and every wait has a deadline.
public final class ChildProcess: @unchecked Sendable {
    /// Where a standard descriptor of the child goes.
    public enum Stream {
        case null
        /// A pipe whose other end the parent holds (``input``, ``output``, ``errors``).
        case pipe
        /// The test process's own descriptor.
        case inherit
        /// A file, created or appended to (a daemon's log, read when a test fails).
        case file(String)
        /// A descriptor of the parent's (the write end of a pipe the test fills, say).
        case descriptor(Int32)
    }

    public let pid: pid_t
    /// The write end of the child's stdin, when it is a pipe.
    public let input: FileHandle?
    /// The read end of the child's stdout, when it is a pipe.
    public let output: FileHandle?
    /// The read end of the child's stderr, when it is a pipe.
    public let errors: FileHandle?
    private let exit = ExitReport()
    private let description: String

    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                directory: String? = nil, stdin: Stream = .null, stdout: Stream = .null, stderr: Stream = .null) throws {
        description = ([executable] + arguments).joined(separator: " ")
        signal(SIGPIPE, SIG_IGN)  // writing to a child that has gone must fail, not kill the tests
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var childEnds: [Int32] = []
        defer { childEnds.forEach { close($0) } }
        func connect(_ stream: Stream, to target: Int32, childReads: Bool) throws -> FileHandle? {
            switch stream {
            case .inherit:
                return nil
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", childReads ? O_RDONLY : O_WRONLY, 0)
                return nil
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, target, path, childReads ? O_RDONLY : O_WRONLY | O_CREAT | O_APPEND, 0o644)
                return nil
            case .descriptor(let descriptor):
                posix_spawn_file_actions_adddup2(&actions, descriptor, target)  // dup2 clears close-on-exec
                return nil
            case .pipe:
                var ends: [Int32] = [0, 0]
                guard pipe2(&ends, O_CLOEXEC) == 0 else { throw TestSetupError("pipe2 failed: errno \(errno)") }
                let (childEnd, parentEnd) = childReads ? (ends[0], ends[1]) : (ends[1], ends[0])
                childEnds.append(childEnd)
                posix_spawn_file_actions_adddup2(&actions, childEnd, target)  // dup2 clears close-on-exec
                return FileHandle(fileDescriptor: parentEnd, closeOnDealloc: true)
            }
        }
        input = try connect(stdin, to: 0, childReads: true)
        output = try connect(stdout, to: 1, childReads: false)
        errors = try connect(stderr, to: 2, childReads: false)
        posix_spawn_file_actions_addclosefrom_np(&actions, 3)
        if let directory { posix_spawn_file_actions_addchdir_np(&actions, directory) }

        let environment = (environment ?? ProcessInfo.processInfo.environment).map { "\($0)=\($1)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else { throw TestSetupError("cannot start \(executable): errno \(spawned)") }
        self.pid = pid
        Thread { [exit, pid] in
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) == -1 && errno == EINTR {}
            exit.report(raw)
        }.start()
    }

    /// The exit status (128 + signal when a signal ended it), or nil while it runs.
    public var exitStatus: Int32? { exit.status.withLock { $0 } }
    public var isRunning: Bool { exitStatus == nil }

    /// The CPU the child has used so far (user and system, in clock ticks), 0 once it has gone:
    /// flat while it waits.
    public var cpuTicks: Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return 0 }
        // After the command's closing parenthesis, from the state (field 3): utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return 0 }
        return user + system
    }

    public func send(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits for the exit. Past `timeout` the child is killed and this throws,
    /// so a hung child fails its test instead of hanging the run.
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(300)) throws -> Int32 {
        if exit.done.wait(timeout: .now() + timeout.timeInterval) == .timedOut {
            kill(pid, SIGKILL)
            exit.done.wait()
            exit.done.signal()
            throw TestSetupError("\(description) did not exit within \(timeout); killed")
        }
        exit.done.signal()  // later waits return at once
        return exitStatus!
    }

    /// ``waitForExit(timeout:)`` off the cooperative pool.
    @discardableResult
    public func exit(within timeout: Duration = .seconds(300)) async throws -> Int32 {
        try await offload { try self.waitForExit(timeout: timeout) }
    }

    /// What ``run(input:timeout:)`` collected.
    public struct Finished: Sendable {
        public var status: Int32
        public var stdout: Data
        public var stderr: Data
    }

    /// Feeds `input` to a piped stdin (then closes it), reads piped stdout and
    /// stderr to their ends, and waits for the exit, all within `timeout`.
    public func run(input: Data = Data(), timeout: Duration = .seconds(300)) throws -> Finished {
        let writer = ThreadBox { [stdin = self.input] in
            try? stdin?.write(contentsOf: input)
            try? stdin?.close()
        }
        let output = ThreadBox { [output = self.output] in output?.readDataToEndOfFile() ?? Data() }
        let errors = ThreadBox { [errors = self.errors] in errors?.readDataToEndOfFile() ?? Data() }
        let status = try waitForExit(timeout: timeout)  // a killed child closes its pipes: the readers end too
        writer.value
        return Finished(status: status, stdout: output.value, stderr: errors.value)
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            exit.done.wait()
        }
    }
}

/// The child's exit, as the reaping thread saw it.
private final class ExitReport: Sendable {
    let status = Mutex<Int32?>(nil)
    let done = DispatchSemaphore(value: 0)

    /// Records a `waitpid` status: the exit status, or 128 + signal as a shell reports it.
    func report(_ raw: Int32) {
        status.withLock { $0 = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f) }
        done.signal()
    }
}

/// Runs a blocking closure on its own thread; `value` waits for it.
public final class ThreadBox<T>: @unchecked Sendable {
    private var result: T?
    private let done = DispatchSemaphore(value: 0)

    public init(_ body: @escaping @Sendable () -> T) {
        Thread { [self] in
            result = body()
            done.signal()
        }.start()
    }

    public var value: T {
        done.wait()
        done.signal()
        return result!
    }
}

extension Duration {
    var timeInterval: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// Lines read from a descriptor with a deadline (poll(2) before each read).
public final class LineInput: @unchecked Sendable {
    private let handle: FileHandle
    private var buffer: [UInt8] = []

    public init(_ handle: FileHandle) {
        self.handle = handle
    }

    /// The next line without its newline; nil at end of input. Throws when
    /// nothing completes a line within `timeout`.
    public func next(within timeout: Duration) throws -> String? {
        let deadline = Date().addingTimeInterval(timeout.timeInterval)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                defer { buffer.removeSubrange(...newline) }
                return String(decoding: buffer[..<newline], as: UTF8.self)
            }
            let left = deadline.timeIntervalSinceNow
            var ready = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            let polled = poll(&ready, 1, Int32(max(0, left * 1000)))
            if polled < 0 && errno == EINTR { continue }
            guard polled > 0 else { throw TestSetupError("no line within \(timeout)") }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let count = chunk.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                guard !buffer.isEmpty else { return nil }
                defer { buffer = [] }
                return String(decoding: buffer, as: UTF8.self)
            }
            buffer.append(contentsOf: chunk[..<count])
        }
    }
}
