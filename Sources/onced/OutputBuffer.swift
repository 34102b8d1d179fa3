import Foundation

/// Buffered writes to a file descriptor: one syscall per flush, not per line.
final class OutputBuffer {
    private let fd: Int32
    private var bytes: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
        bytes.reserveCapacity(64 * 1024)
    }

    func writeLine(_ line: String) {
        writeLine { $0.append(contentsOf: line.utf8) }
    }

    /// A line that `write` appends to the buffer itself, with no String in between.
    func writeLine(_ write: (inout [UInt8]) -> Void) {
        write(&bytes)
        bytes.append(UInt8(ascii: "\n"))
        if bytes.count >= 64 * 1024 { flush() }
    }

    func flush() {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                break  // a closed pipe: nobody is reading, so there is nothing left to tell
            }
            offset += written
        }
        bytes.removeAll(keepingCapacity: true)
    }
}

/// Writes a one-line message to stderr.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
