/// Lowercase hex digits, written as UTF-8: for key hashes, request ids and
/// JSON escapes, all on hot paths where `String(format:)` cost too much.
enum Hex {
    /// The digit for `nibble` (0–15), computed: a table is a global behind a once-check.
    @inline(__always)
    static func digit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") - 10 + nibble
    }

    /// Writes the two digits of `byte` at `position` and the next.
    static func write(_ byte: UInt8, into text: UnsafeMutableBufferPointer<UInt8>, at position: Int) {
        text[position] = digit(byte >> 4)
        text[position + 1] = digit(byte & 0x0F)
    }

    /// Appends the two digits of `byte`.
    static func append(_ byte: UInt8, to text: inout [UInt8]) {
        text.append(digit(byte >> 4))
        text.append(digit(byte & 0x0F))
    }
}
