import Foundation

/// A profile's values as storage v3 keeps them: inline, in its row's `props`
/// blob, so a set-once of a new profile writes one row for its values
/// instead of one per value (``StorageV3``).
///
/// The blob is a format byte, then one entry per value, in no set order:
/// `name` (varint id), a tag byte and its payload, `updated_at` (varint
/// milliseconds), then provenance (0, or 1 and the request's 16 bytes).
/// Payloads: an integer or a real in 8 bytes (little-endian); a string, or a
/// list as its JSON text, as a varint length and UTF-8; a boolean in its tag;
/// a date as its 8-byte instant and then its text. These are the forms
/// `property_values` holds and queries compare (``StoredValue``).
struct PackedValues: Equatable {
    /// Where one entry lies in the blob.
    struct Entry {
        var name: Int64
        var tag: Tag
        /// Of the payload.
        var payload: Range<Int>
        /// Of the whole entry.
        var bytes: Range<Int>
        var updatedAt: Int64
        var request: Range<Int>?
    }

    enum Tag: UInt8 {
        case integer = 1, real, text, no, yes, date, list
    }

    static let format: UInt8 = 1
    private(set) var bytes: [UInt8]

    init() {
        bytes = [Self.format]
    }

    /// Checks the whole blob, so that every later read of it is in bounds.
    init(blob: UnsafeRawBufferPointer) throws {
        try Self.forEach(in: blob) { _ in }
        bytes = blob.isEmpty ? [Self.format] : Array(blob)
    }

    /// The entries in the blob's order (none in an empty one: a profile
    /// migrated without values has a NULL `props`); throws on a blob that is not this format.
    static func forEach(in blob: UnsafeRawBufferPointer, _ body: (Entry) throws -> Void) throws {
        if blob.isEmpty { return }
        guard blob.first == format else { throw StoreError.corrupt("a profile's values are not in a known format") }
        var reader = Reader(blob, at: 1)
        while !reader.atEnd {
            guard let entry = reader.entry() else { throw StoreError.corrupt("a profile's values end early") }
            try body(entry)
        }
    }

    func forEach(_ body: (Entry) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { blob in
            var reader = Reader(blob, at: 1)
            while let entry = reader.entry() { try body(entry) }
        }
    }

    func entry(_ name: Int64) -> Entry? {
        bytes.withUnsafeBytes { Self.entry(name, in: $0) }
    }

    /// The entry for `name` in a blob not yet checked: nil when there is none or the blob is cut short.
    static func entry(_ name: Int64, in blob: UnsafeRawBufferPointer) -> Entry? {
        guard blob.first == format else { return nil }
        var reader = Reader(blob, at: 1)
        while let entry = reader.entry() {
            if entry.name == name { return entry }
        }
        return nil
    }

    var isEmpty: Bool { bytes.count == 1 }

    /// The value of `entry`, which must be of `type`.
    func value(_ entry: Entry, as type: PropertyType) throws -> PropertyValue {
        try bytes.withUnsafeBytes { try Self.value(entry, as: type, in: $0) }
    }

    static func value(_ entry: Entry, as type: PropertyType, in blob: UnsafeRawBufferPointer) throws -> PropertyValue {
        let payload = UnsafeRawBufferPointer(rebasing: blob[entry.payload])
        func text(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: Reader.text(bytes), as: UTF8.self) }
        switch (type, entry.tag) {
        case (.string, .text): return .string(text(payload))
        case (.number, .integer): return .integer(Reader.fixed(payload))
        case (.number, .real): return .decimal(Double(bitPattern: UInt64(bitPattern: Reader.fixed(payload))))
        case (.boolean, .no): return .boolean(false)
        case (.boolean, .yes): return .boolean(true)
        case (.date, .date):
            return .date(ISODate(text: text(UnsafeRawBufferPointer(rebasing: payload[8...])), instant: Reader.fixed(payload)))
        case (.list, .list):
            guard let parsed = try? JSONParser.parse(Reader.text(payload)),
                  case .success(let elements) = Validator.listElements(parsed) else {
                throw StoreError.corrupt("unreadable list")
            }
            return .list(elements)
        default:
            throw StoreError.corrupt("a \(type.rawValue) property holds a value tagged \(entry.tag)")
        }
    }

    /// The request that last changed the entry's value.
    func request(_ entry: Entry) -> UUID? {
        entry.request.flatMap { UUID(blob: Data(bytes[$0])) }
    }

    /// The tag and payload of the entry for `name`, or nil: a value changed
    /// (in its type or its written form) exactly when these bytes did.
    func storedForm(_ name: Int64) -> ArraySlice<UInt8>? {
        entry(name).map { bytes[$0.payload.lowerBound - 1 ..< $0.payload.upperBound] }
    }

    /// Stores `value` under `name`, replacing any other.
    mutating func set(_ name: Int64, _ value: PropertyValue, at now: Int64, by request: UUID?) {
        remove(name)
        append(name, value, updatedAt: now, request: request)
    }

    /// Removes the value under `name`; whether there was one.
    @discardableResult
    mutating func remove(_ name: Int64) -> Bool {
        guard let entry = entry(name) else { return false }
        bytes.removeSubrange(entry.bytes)
        return true
    }

    /// Adds an entry for `name`, which must have none.
    mutating func append(_ name: Int64, _ value: PropertyValue, updatedAt: Int64, request: UUID?) {
        Writer.varint(UInt64(bitPattern: name), to: &bytes)
        switch value {
        case .integer(let integer):
            bytes.append(Tag.integer.rawValue)
            Writer.fixed(integer, to: &bytes)
        case .decimal(let double):
            bytes.append(Tag.real.rawValue)
            Writer.fixed(Int64(bitPattern: double.bitPattern), to: &bytes)
        case .string(let string):
            bytes.append(Tag.text.rawValue)
            Writer.text(string.utf8, to: &bytes)
        case .boolean(let bool):
            bytes.append(bool ? Tag.yes.rawValue : Tag.no.rawValue)
        case .date(let date):
            bytes.append(Tag.date.rawValue)
            Writer.fixed(date.instant, to: &bytes)
            Writer.text(date.text.utf8, to: &bytes)
        case .list:
            bytes.append(Tag.list.rawValue)
            var json: [UInt8] = []
            value.writeJSON(to: &json)
            Writer.text(json, to: &bytes)
        }
        Writer.varint(UInt64(bitPattern: updatedAt), to: &bytes)
        if let request {
            bytes.append(1)
            withUnsafeBytes(of: request.uuid) { bytes.append(contentsOf: $0) }
        } else {
            bytes.append(0)
        }
    }

    /// Reads entries, bounds-checked: a short or malformed entry ends the read.
    struct Reader {
        let blob: UnsafeRawBufferPointer
        var position: Int

        init(_ blob: UnsafeRawBufferPointer, at position: Int) {
            self.blob = blob
            self.position = position
        }

        var atEnd: Bool { position >= blob.count }

        mutating func entry() -> Entry? {
            let start = position
            guard let name = varint(), let tagByte = byte(), let tag = Tag(rawValue: tagByte) else { return nil }
            let payloadStart = position
            switch tag {
            case .integer, .real: guard skip(8) else { return nil }
            case .no, .yes: break
            case .text, .list: guard let length = varint(), skip(Int(clamping: length)) else { return nil }
            case .date: guard skip(8), let length = varint(), skip(Int(clamping: length)) else { return nil }
            }
            let payloadEnd = position
            guard let updatedAt = varint(), let flag = byte() else { return nil }
            var request: Range<Int>?
            if flag == 1 {
                request = position ..< position + 16
                guard skip(16) else { return nil }
            } else if flag != 0 {
                return nil
            }
            return Entry(name: Int64(bitPattern: name), tag: tag, payload: payloadStart ..< payloadEnd, bytes: start ..< position,
                         updatedAt: Int64(bitPattern: updatedAt), request: request)
        }

        private mutating func byte() -> UInt8? {
            guard position < blob.count else { return nil }
            defer { position += 1 }
            return blob[position]
        }

        private mutating func skip(_ count: Int) -> Bool {
            guard count >= 0, count <= blob.count - position else { return false }
            position += count
            return true
        }

        private mutating func varint() -> UInt64? {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 7) {
                guard let byte = byte() else { return nil }
                value |= UInt64(byte & 0x7F) << UInt64(shift)
                if byte & 0x80 == 0 { return value }
            }
            return nil
        }

        /// The 8-byte little-endian integer at the start of `bytes` (checked by ``entry()``).
        static func fixed(_ bytes: UnsafeRawBufferPointer) -> Int64 {
            var value: UInt64 = 0
            for index in 0..<8 { value |= UInt64(bytes[index]) << UInt64(8 * index) }
            return Int64(bitPattern: value)
        }

        /// The text after the varint length at the start of `bytes` (checked by ``entry()``).
        static func text(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
            let lengthSize = (bytes.firstIndex { $0 & 0x80 == 0 } ?? bytes.count - 1) + 1
            return UnsafeRawBufferPointer(rebasing: bytes[lengthSize...])
        }
    }

    private enum Writer {
        static func varint(_ value: UInt64, to bytes: inout [UInt8]) {
            var value = value
            while value >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
                value >>= 7
            }
            bytes.append(UInt8(value))
        }

        static func fixed(_ value: Int64, to bytes: inout [UInt8]) {
            let value = UInt64(bitPattern: value)
            for index in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * index))) }
        }

        static func text<Bytes: Collection<UInt8>>(_ text: Bytes, to bytes: inout [UInt8]) {
            varint(UInt64(text.count), to: &bytes)
            bytes.append(contentsOf: text)
        }
    }
}
