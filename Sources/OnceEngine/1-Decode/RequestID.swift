import Foundation

extension UUID {
    /// A new request id: a version 7 UUID (RFC 9562), whose first 48 bits are
    /// the Unix time in milliseconds and the rest random.
    ///
    /// Why not `UUID()` (version 4): request records are keyed by their id, and
    /// random keys land on random pages of the index, so every new record read
    /// and rewrote a page somewhere in a table far larger than the page cache.
    /// Time-ordered ids all land on the index's last pages. Callers still see
    /// an opaque UUID. (`UUID()` also opens and reads `/dev/urandom` each time
    /// here; the system generator is one `getrandom` call per 8 bytes.)
    public static func timeOrdered(at date: Date = Date()) -> UUID {
        var generator = SystemRandomNumberGenerator()
        let milliseconds = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        let high = milliseconds << 16 | 0x7000 | generator.next() & 0x0FFF  // time, version 7, 12 random bits
        let low = 0x8000_0000_0000_0000 | generator.next() & 0x3FFF_FFFF_FFFF_FFFF  // variant 10, 62 random bits
        func byte(_ word: UInt64, _ index: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: word >> (56 - 8 * index)) }
        return UUID(uuid: (byte(high, 0), byte(high, 1), byte(high, 2), byte(high, 3),
                           byte(high, 4), byte(high, 5), byte(high, 6), byte(high, 7),
                           byte(low, 0), byte(low, 1), byte(low, 2), byte(low, 3),
                           byte(low, 4), byte(low, 5), byte(low, 6), byte(low, 7)))
    }
}

extension UUID {
    /// The id as the API writes and stores it: lowercase and hyphenated.
    /// (`uuidString.lowercased()` formats through `snprintf`, then copies: it
    /// showed in profiles, being done several times per request. Written in
    /// place, it is one allocation.)
    public var lowercaseString: String {
        String(unsafeUninitializedCapacity: 36) { text in
            withUnsafeBytes(of: uuid) { bytes in
                var end = 0
                for index in 0..<16 {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        text[end] = UInt8(ascii: "-")
                        end += 1
                    }
                    Hex.write(bytes[index], into: text, at: end)
                    end += 2
                }
                return end
            }
        }
    }
}
