import Testing
@testable import OnceEngine

@Suite struct ISODateTests {
    /// Each accepted form, with its instant as (seconds, extra microseconds) since the epoch.
    static let accepted: [(String, Int64, Int64)] = [
        ("2020-10-01T18:30:00.000Z", 1_601_577_000, 0),
        ("2020-10-01T18:30:00Z", 1_601_577_000, 0),
        ("2020-10-01T18:30:00.000+05:30", 1_601_557_200, 0),
        ("2020-10-01T18:30:00+02:00", 1_601_569_800, 0),
        ("2021-11-01T13:35:00-02:00", 1_635_780_900, 0),
        ("2020-10-01", 1_601_510_400, 0),
        ("1970-01-01", 0, 0),
        ("1969-12-31T23:59:59Z", -1, 0),
        ("2020-10-01T18:30:00.5Z", 1_601_577_000, 500_000),
        ("2020-10-01T18:30:00.123456789Z", 1_601_577_000, 123_456),
        ("2024-02-29", 1_709_164_800, 0),
        ("2000-02-29T00:00:00Z", 951_782_400, 0),
        ("2020-12-31T23:59:59.999Z", 1_609_459_199, 999_000),
    ]

    @Test(arguments: accepted)
    func acceptsForms(text: String, seconds: Int64, micros: Int64) throws {
        let date = try #require(ISODate(parsing: text))
        #expect(date.instant == seconds * 1_000_000 + micros)
        #expect(date.text == text)
    }

    @Test(arguments: [
        "2023-02-29",                     // not a leap year
        "1900-02-29",                     // century, not a leap year
        "2020-02-30",
        "2020-04-31",
        "2020-13-01",                     // month 13
        "2020-00-10",
        "2020-01-00",
        "2020-10-01T24:00:00Z",           // hour 24
        "2020-10-01T23:60:00Z",
        "2020-10-01T23:59:60Z",           // leap seconds are not instants we can order
        "2020-10-01T18:30:00",            // no zone
        "2020-10-01T18:30:00.Z",          // empty fraction
        "2020-10-01T18:30:00.1234567890Z",// ten fraction digits
        "2020-10-01T18:30:00+0530",       // offset without colon
        "2020-10-01T18:30:00+24:00",
        "2020-10-01T18:30:00+05:60",
        "2020-10-01T18:30Z",              // no seconds
        "2020-10-01 18:30:00Z",           // space instead of T
        "2020-10-01t18:30:00z",
        "2020-10-01T18:30:00Zjunk",       // trailing garbage
        "2020-10-01x",
        "2020-1-01",
        "20201001",
        "01/10/2020",
        "2020-10-01T18:30:00.000Z ",
        "",
        "２０２０-10-01",                  // non-ASCII digits
    ])
    func rejects(text: String) {
        #expect(ISODate(parsing: text) == nil)
    }

    @Test func formatsUTCMilliseconds() {
        #expect(ISODate.utcText(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(ISODate.utcText(milliseconds: 1_601_577_000_123) == "2020-10-01T18:30:00.123Z")
        #expect(ISODate.utcText(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(ISODate.utcText(milliseconds: -62_135_596_800_000) == "0001-01-01T00:00:00.000Z")
        #expect(ISODate.utcText(milliseconds: 253_402_300_799_999) == "9999-12-31T23:59:59.999Z")
        // Past four digits the year is printed whole, the rest as usual.
        #expect(ISODate.utcText(milliseconds: 253_402_300_800_000) == "10000-01-01T00:00:00.000Z")
        #expect(ISODate.utcText(milliseconds: 253_431_800_000_001) == "10000-12-07T10:13:20.001Z")
    }

    @Test func civilRoundTrip() {
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let (year, month, day) = ISODate.civilFromDays(days)
            #expect(ISODate.daysFromCivil(year: year, month: month, day: day) == days)
        }
    }
}
