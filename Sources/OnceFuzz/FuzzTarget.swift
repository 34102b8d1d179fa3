import OnceEngine

/// The input decoders that take bytes from outside, as fuzzing entry points.
///
/// Each target must return for any bytes — no crash, hang or unbounded
/// allocation — and checks properties that hold for every input (a parsed
/// body prints and re-parses to itself, a parsed date prints back to the same
/// instant), so the fuzzer finds wrong answers as well as crashes.
/// `onced-fuzz` runs them under libFuzzer; the test suite replays the committed
/// corpus and every past crash through the same functions.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// An HTTP body: JSON, then every single-op endpoint's decoder and the batch decoder.
    case jsonBody = "json-body"
    /// ISO 8601 dates and `once.date`'s coercions.
    case date
    /// One `onced apply` input line.
    case jsonLine = "jsonl-line"
    /// Values crossing into Lua and back, and rule files loaded and called.
    case luaBridge = "lua-bridge"

    /// Runs one input. A broken invariant stops the process (that is what the fuzzer reports).
    public func run(_ bytes: UnsafeRawBufferPointer) {
        let input = bytes.bindMemory(to: UInt8.self)
        switch self {
        case .jsonBody: DecoderTargets.jsonBody(input)
        case .date: DecoderTargets.date(input)
        case .jsonLine: DecoderTargets.jsonLine(input)
        case .luaBridge: LuaBridgeTarget.run(input)
        }
    }

    /// Runs one input held in an array.
    public func run(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { run($0) }
    }
}

/// Stops the process with `message` when `condition` is false, in every build
/// configuration (`precondition` is compiled out by `-Ounchecked`).
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError(message()) }
}
