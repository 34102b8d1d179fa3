import Foundation

extension UUID {
    /// A new request id: a version 7 UUID (RFC 9562), whose first 48 bits are
    /// the Unix time in milliseconds and the rest random.
    ///
    /// Why not `UUID()` (version 4): request records are keyed by their id, and
    /// random keys land on random pages of the index, so every new record read
    /// and rewrote a page somewhere in a table far larger than the page cache.
    /// Time-ordered ids all land on the index's last pages. Callers still see
    /// an opaque UUID.
    public static func timeOrdered(at date: Date = Date()) -> UUID {
        let milliseconds = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        func byte(_ index: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: milliseconds >> (40 - 8 * index)) }
        var bits = UUID().uuid  // random, with the RFC variant already set
        (bits.0, bits.1, bits.2, bits.3, bits.4, bits.5) = (byte(0), byte(1), byte(2), byte(3), byte(4), byte(5))
        bits.6 = 0x70 | (bits.6 & 0x0F)
        return UUID(uuid: bits)
    }
}
