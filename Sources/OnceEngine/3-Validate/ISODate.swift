/// A date value: the text exactly as written, plus its instant for ordering.
///
/// Accepted forms, and nothing else (SPEC §1):
/// `2020-10-01T18:30:00.000Z`, `2020-10-01T18:30:00Z`,
/// `2020-10-01T18:30:00.000+05:30`, `2020-10-01T18:30:00+02:00`, `2020-10-01`.
/// The fraction may have 1 to 9 digits. Every field is range-checked against
/// the real calendar (proleptic Gregorian): no February 30, no hour 24, no
/// leap second, offsets up to ±23:59. A date without a time is midnight UTC.
///
/// Hand-written because this runs for every string property on the hot path,
/// where a `DateFormatter` costs microseconds and accepts more than it should.
public struct ISODate: Sendable, Hashable {
    /// The text exactly as sent, which is what is stored and shown.
    public let text: String
    /// Microseconds since 1970-01-01T00:00:00Z (sub-microsecond digits are dropped).
    public let instant: Int64

    /// Nil unless `text` is one of the five forms and a real instant.
    public init?(parsing text: String) {
        guard let instant = ISODate.instant(of: text) else { return nil }
        self.text = text
        self.instant = instant
    }

    package init(text: String, instant: Int64) {
        self.text = text
        self.instant = instant
    }

    private static func instant(of text: String) -> Int64? {
        var text = text
        return text.withUTF8 { bytes -> Int64? in
            var scanner = DigitScanner(bytes: bytes)
            guard bytes.count == 10 || bytes.count >= 20 else { return nil }
            guard let year = scanner.digits(4), scanner.expect("-"),
                  let month = scanner.digits(2), scanner.expect("-"),
                  let day = scanner.digits(2) else { return nil }
            guard (1...12).contains(month), (1...daysInMonth(year: year, month: month)).contains(day) else { return nil }
            let days = daysFromCivil(year: year, month: month, day: day)
            if scanner.atEnd { return days * 86_400 * 1_000_000 }

            guard scanner.expect("T"),
                  let hour = scanner.digits(2), scanner.expect(":"),
                  let minute = scanner.digits(2), scanner.expect(":"),
                  let second = scanner.digits(2),
                  hour < 24, minute < 60, second < 60 else { return nil }
            var micros: Int64 = 0
            if scanner.expect(".") {
                var count = 0
                while let digit = scanner.digits(1) {
                    count += 1
                    if count <= 6 { micros = micros * 10 + Int64(digit) }
                }
                guard (1...9).contains(count) else { return nil }
                for _ in min(count, 6)..<6 { micros *= 10 }
            }
            var offsetSeconds: Int64 = 0
            if scanner.expect("Z") {
                offsetSeconds = 0
            } else {
                let sign: Int64
                if scanner.expect("+") { sign = 1 } else if scanner.expect("-") { sign = -1 } else { return nil }
                guard let offsetHour = scanner.digits(2), scanner.expect(":"),
                      let offsetMinute = scanner.digits(2),
                      offsetHour < 24, offsetMinute < 60 else { return nil }
                offsetSeconds = sign * Int64(offsetHour * 3600 + offsetMinute * 60)
            }
            guard scanner.atEnd else { return nil }
            let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - offsetSeconds
            return seconds * 1_000_000 + micros
        }
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    static func isLeapYear(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The civil date of a day count since 1970-01-01 (inverse of ``daysFromCivil``).
    static func civilFromDays(_ days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a UTC instant in milliseconds (a year
    /// beyond 0000–9999 is printed as it is).
    public static func utcText(milliseconds: Int64) -> String {
        let text = String(unsafeUninitializedCapacity: utcTextLength) { writeUTC(milliseconds: milliseconds, into: $0) ?? 0 }
        guard text.isEmpty else { return text }
        let sameDayInYearZero = String(unsafeUninitializedCapacity: utcTextLength) {
            writeUTC(milliseconds: milliseconds, into: $0, year: 0) ?? 0
        }
        return "\(civilFromDays(dayAndTime(milliseconds).day).year)" + sameDayInYearZero.dropFirst(4)
    }

    /// Days since the epoch and milliseconds into that day (never negative).
    private static func dayAndTime(_ milliseconds: Int64) -> (day: Int64, millisecond: Int64) {
        let (days, msOfDay) = milliseconds.quotientAndRemainder(dividingBy: 86_400_000)
        return msOfDay < 0 ? (days - 1, msOfDay + 86_400_000) : (days, msOfDay)
    }

    /// The length of ``utcText(milliseconds:)`` for years 0000–9999.
    private static var utcTextLength: Int { 24 }

    /// Writes ``utcText(milliseconds:)`` into `text` (at least ``utcTextLength`` bytes) and
    /// returns its length; nil for a year beyond four digits. Digits are written in place:
    /// the padded pieces this was built from showed in profiles of every request record.
    /// `year` replaces the instant's own (how a longer year is printed).
    private static func writeUTC(milliseconds: Int64, into text: UnsafeMutableBufferPointer<UInt8>, year fixedYear: Int? = nil) -> Int? {
        let (days, ms) = dayAndTime(milliseconds)
        let (civilYear, month, day) = civilFromDays(days)
        let year = fixedYear ?? civilYear
        guard (0...9999).contains(year), text.count >= utcTextLength else { return nil }
        var end = 0
        func put(_ value: Int64, width: Int, then separator: UInt8) {
            var value = value
            for offset in stride(from: width - 1, through: 0, by: -1) {
                text[end + offset] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
            text[end + width] = separator
            end += width + 1
        }
        put(Int64(year), width: 4, then: UInt8(ascii: "-"))
        put(Int64(month), width: 2, then: UInt8(ascii: "-"))
        put(Int64(day), width: 2, then: UInt8(ascii: "T"))
        put(ms / 3_600_000, width: 2, then: UInt8(ascii: ":"))
        put(ms / 60_000 % 60, width: 2, then: UInt8(ascii: ":"))
        put(ms / 1000 % 60, width: 2, then: UInt8(ascii: "."))
        put(ms % 1000, width: 3, then: UInt8(ascii: "Z"))
        return end
    }
}

/// Reads fixed-width ASCII fields off the front of a byte buffer.
private struct DigitScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    var atEnd: Bool { position == bytes.count }

    mutating func digits(_ count: Int) -> Int? {
        guard position + count <= bytes.count else { return nil }
        var value = 0
        for index in position..<position + count {
            let digit = Int(bytes[index]) - 48
            guard (0...9).contains(digit) else { return nil }
            value = value * 10 + digit
        }
        position += count
        return value
    }

    mutating func expect(_ character: Unicode.Scalar) -> Bool {
        guard position < bytes.count, bytes[position] == UInt8(character.value) else { return false }
        position += 1
        return true
    }
}
