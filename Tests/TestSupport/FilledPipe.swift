import CSpawn
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A one-page pipe the test fills but for `room` bytes, for a child's output:
/// the child's first write that does not fit waits until the test reads, so a
/// child can be held at a known line, however fast or slow the machine.
public final class FilledPipe: @unchecked Sendable {
    public static let capacity = 4096
    /// Give it to the child (``ChildProcess/Stream/descriptor(_:)``).
    public let writeEnd: Int32
    private let readEnd: Int32
    private let filler: Int

    public init(room: Int) throws {
        var ends: [Int32] = [0, 0]
        guard pipe2(&ends, O_CLOEXEC) == 0 else { throw TestSetupError("pipe2 failed: errno \(errno)") }
        (readEnd, writeEnd) = (ends[0], ends[1])
        filler = Self.capacity - room
        guard cspawn_set_pipe_size(writeEnd, Int32(Self.capacity)) == Self.capacity,
              write(writeEnd, [UInt8](repeating: UInt8(ascii: "."), count: filler), filler) == filler else {
            throw TestSetupError("cannot make a one-page pipe: errno \(errno)")
        }
    }

    /// Whether the child has filled the room left.
    public var isFull: Bool { cspawn_pending_bytes(readEnd) >= Self.capacity }

    /// What the child wrote into the room (reading it lets the child go on).
    public func written() -> String {
        var bytes = [UInt8](repeating: 0, count: Self.capacity)
        let count = read(readEnd, &bytes, Self.capacity)
        return String(decoding: bytes[min(filler, max(0, count))..<max(filler, count)], as: UTF8.self)
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }
}
