import Foundation

/// Splits a file descriptor into lines without ever holding more than one
/// line (capped at `maxLength` bytes) plus one read buffer in memory.
struct LineReader {
    enum Line {
        case text(number: Int, bytes: ArraySlice<UInt8>)
        /// The line was longer than the cap; its bytes were skipped, not kept.
        case tooLong(number: Int)
    }

    let fd: Int32
    let maxLength: Int
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    private var pending: [UInt8] = []
    private var start = 0
    private var end = 0
    private var lineNumber = 0
    private var skippingOversized = false
    private var finished = false

    init(fd: Int32, maxLength: Int) {
        self.fd = fd
        self.maxLength = maxLength
    }

    /// The next line, or nil at end of input. Blocks while the input has nothing
    /// to read; `beforeReading` runs before each read from the descriptor (which may block).
    mutating func next(beforeReading: () -> Void = {}) -> Line? {
        while true {
            if let newline = buffer[start..<end].firstIndex(of: UInt8(ascii: "\n")) {
                let chunk = buffer[start..<newline]
                start = newline + 1
                if let line = complete(with: chunk) { return line }
                continue
            }
            if !skippingOversized {
                pending.append(contentsOf: buffer[start..<end])
                if pending.count > maxLength {
                    pending = []
                    skippingOversized = true
                }
            }
            start = 0
            end = 0
            if finished { break }
            beforeReading()
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 {
                if count < 0 && errno == EINTR { continue }
                finished = true
            } else {
                end = count
            }
        }
        // A last line without a trailing newline still counts.
        if skippingOversized || !pending.isEmpty {
            return complete(with: [])
        }
        return nil
    }

    private mutating func complete(with tail: ArraySlice<UInt8>) -> Line? {
        lineNumber += 1
        if skippingOversized || pending.count + tail.count > maxLength {
            skippingOversized = false
            pending = []
            return .tooLong(number: lineNumber)
        }
        let bytes: ArraySlice<UInt8>
        if pending.isEmpty {
            bytes = tail
        } else {
            pending.append(contentsOf: tail)
            bytes = pending[...]
            pending = []
        }
        return .text(number: lineNumber, bytes: bytes)
    }
}
