import CLua
import Foundation
import Logging
import Synchronization

/// What the Swift side of `once.log` and `ctx.type_of` needs during a call.
/// The state's extra space points at it; it lives as long as the state.
final class HookCallbacks {
    /// The request and op the running hook sees as `ctx`.
    var context: HookContext?
    /// Whether a hook read a field of `ctx` since it was last cleared.
    var contextRead = false
    var types: [String: PropertyType] { context?.types ?? [:] }
    var ruleNames: [String] = []
    /// The rule whose hook is running.
    var ruleIndex = 0
    var log: RuleLog = .shared

    var ruleName: String { ruleNames.indices.contains(ruleIndex) ? ruleNames[ruleIndex] : "(loading)" }
}

/// `once.log`: through swift-log, at most `perSecond` lines per rule per second,
/// so a rule that logs per property cannot flood the logs.
final class RuleLog: Sendable {
    static let shared = RuleLog(logger: Logger(label: "onced.rules"))

    let logger: Logger
    let perSecond: Int
    private let windows = Mutex<[String: (second: Int, count: Int)]>([:])

    init(logger: Logger, perSecond: Int = 10) {
        self.logger = logger
        self.perSecond = perSecond
    }

    func log(rule: String, _ message: String, level: Logger.Level = .info) {
        let second = Int(Date().timeIntervalSince1970)
        let (allowed, suppressed) = windows.withLock { windows -> (Bool, Int) in
            var window = windows[rule] ?? (second, 0)
            var suppressed = 0
            if window.second != second {
                suppressed = max(0, window.count - perSecond)
                window = (second, 0)
            }
            window.count += 1
            windows[rule] = window
            return (window.count <= perSecond, suppressed)
        }
        if suppressed > 0 {
            logger.warning("rule log lines suppressed", metadata: ["rule": "\(rule)", "count": "\(suppressed)"])
        }
        if allowed { logger.log(level: level, "\(message)", metadata: ["rule": "\(rule)"]) }
    }
}

/// `once.date(text)`: the date forms people actually send, as ISO 8601.
package enum DateCoercion {
    /// ISO 8601 (one of the five accepted forms) as it is; `DD/MM/YYYY` and
    /// `YYYY/MM/DD` as `YYYY-MM-DD`; anything else nil.
    package static func isoDate(from text: String) -> String? {
        if ISODate(parsing: text) != nil { return text }
        // Bytes, not Characters: splitting a String walks grapheme breaks, which made
        // `once.date` cost more than the rest of a rule request.
        let parts = Array(text.utf8).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(isDigit) }) else { return nil }
        let (year, month, day): (ArraySlice<UInt8>, ArraySlice<UInt8>, ArraySlice<UInt8>)
        if parts[0].count == 4 && parts[1].count <= 2 && parts[2].count <= 2 {
            (year, month, day) = (parts[0], parts[1], parts[2])
        } else if parts[2].count == 4 && parts[0].count <= 2 && parts[1].count <= 2 {
            (year, month, day) = (parts[2], parts[1], parts[0])
        } else {
            return nil
        }
        let candidate = String(decoding: year + [UInt8(ascii: "-")] + pad(month) + [UInt8(ascii: "-")] + pad(day), as: UTF8.self)
        return ISODate(parsing: candidate) != nil ? candidate : nil
    }

    /// `once.date` of a string: blanks around it ignored; digits (and dots) alone are Unix seconds.
    package static func isoDate(fromArgument text: String) -> String? {
        let bytes = Array(text.utf8)
        guard let first = bytes.firstIndex(where: { !isBlank($0) }), let last = bytes.lastIndex(where: { !isBlank($0) }) else {
            return nil
        }
        let trimmed = bytes[first...last]
        if trimmed.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") }) {
            return Double(String(decoding: trimmed, as: UTF8.self)).flatMap(isoDate(fromUnixSeconds:))
        }
        return isoDate(from: first == bytes.startIndex && last == bytes.endIndex - 1 ? text : String(decoding: trimmed, as: UTF8.self))
    }

    /// Unix seconds (fractions kept to the millisecond) as UTC ISO 8601; nil out of years 0001–9999.
    package static func isoDate(fromUnixSeconds seconds: Double) -> String? {
        guard seconds.isFinite, seconds >= -62_135_596_800, seconds < 253_402_300_800 else { return nil }
        let milliseconds = Int64((seconds * 1000).rounded())
        let text = ISODate.utcText(milliseconds: milliseconds)
        return milliseconds % 1000 == 0 ? String(text.dropLast(5)) + "Z" : text
    }

    private static func pad(_ part: ArraySlice<UInt8>) -> ArraySlice<UInt8> { part.count == 1 ? [UInt8(ascii: "0")] + part : part }
    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
    private static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
}

// MARK: - Callbacks behind the C trampolines (they return; the trampoline raises)

private func write(_ text: String, to output: UnsafeMutablePointer<CChar>?, capacity: Int) -> Int {
    let bytes = Array(text.utf8.prefix(capacity - 1))
    bytes.withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: CChar.self) { output?.update(from: $0.baseAddress!, count: bytes.count) }
    }
    output?[bytes.count] = 0
    return bytes.count
}

private func string(_ input: UnsafePointer<CChar>?, _ length: Int) -> String? {
    guard let input else { return nil }
    return String(decoding: UnsafeRawBufferPointer(start: input, count: length), as: UTF8.self)
}

let onceDateCallback: clua_callback = { _, input, length, number, isNumber, output, capacity in
    let result: String?
    if isNumber != 0 {
        result = DateCoercion.isoDate(fromUnixSeconds: number)
    } else if let text = string(input, length) {
        result = DateCoercion.isoDate(fromArgument: text)
    } else {
        result = nil
    }
    guard let result else { return -1 }
    return write(result, to: output, capacity: capacity)
}

let onceLogCallback: clua_callback = { context, input, length, number, isNumber, output, capacity in
    let callbacks = Unmanaged<HookCallbacks>.fromOpaque(context!).takeUnretainedValue()
    let message = isNumber != 0 ? String(number) : string(input, length) ?? "nil"
    callbacks.log.log(rule: callbacks.ruleName, String(message.prefix(1000)))
    return -1
}

/// `ctx.<field>` on first read (``HookContext/text(of:)``); nil for any other name.
let contextFieldCallback: clua_callback = { context, input, length, _, _, output, capacity in
    let callbacks = Unmanaged<HookCallbacks>.fromOpaque(context!).takeUnretainedValue()
    guard let field = string(input, length), let text = callbacks.context?.text(of: field),
          text.utf8.count < capacity else { return -1 }
    callbacks.contextRead = true
    return write(text, to: output, capacity: capacity)
}

let typeOfCallback: clua_callback = { context, input, length, _, _, output, capacity in
    let callbacks = Unmanaged<HookCallbacks>.fromOpaque(context!).takeUnretainedValue()
    guard let name = string(input, length) else {
        return write("ctx.type_of takes a property name", to: output, capacity: capacity) >= 0 ? -2 : -2
    }
    guard let type = callbacks.types[name] else { return -1 }
    return write(type.rawValue, to: output, capacity: capacity)
}
