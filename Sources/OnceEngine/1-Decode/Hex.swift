/// Lowercase hex digits, appended as UTF-8: for key hashes, request ids and
/// JSON escapes, all on hot paths where `String(format:)` cost too much.
enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Appends the two digits of `byte`.
    static func append(_ byte: UInt8, to text: inout [UInt8]) {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0x0F)])
    }
}
