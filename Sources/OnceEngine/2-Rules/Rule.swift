import Foundation

/// One rule file's declaration (SPEC §4), read once at load time.
public struct Rule: Sendable {
    /// What a failing hook means (SPEC §4 `on_error`).
    public enum OnError: String, Sendable {
        /// A failing rule leaves the value as it was.
        case keep
        /// A failing rule drops the property (or, for a request hook, rejects the request).
        case reject
    }

    /// The file name, e.g. `20-cohorts.lua`.
    public var file: String
    /// `name`, or the file name without `.lua`.
    public var name: String
    /// The ops the rule runs for.
    public var ops: Set<Op>
    /// Nil: every workspace.
    public var workspaces: Set<String>?
    /// A Lua pattern on property names; nil: every property.
    public var propertyPattern: String?
    /// Default `.keep`.
    public var onError: OnError
    /// Whether the file defines `property`.
    public var hasPropertyHook: Bool
    /// Whether the file defines `request`.
    public var hasRequestHook: Bool
    /// The `tests` table, as JSON.
    public var tests: [JSON]

    /// Ops a rule sees when it names none: every op that carries values.
    public static let defaultOps: Set<Op> = [.setOnce, .set, .add, .append, .remove]

    func applies(to op: Op, in namespace: Namespace) -> Bool {
        ops.contains(op) && (workspaces?.contains(namespace.workspace) ?? true)
    }
}

/// A rule file that cannot be loaded, with where and why.
public struct RuleLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The rule file's name.
    public var file: String
    /// 0 when the error has no line.
    public var line: Int
    /// What Lua or the loader said.
    public var message: String

    /// `file:line: message`.
    public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }

    /// Splits Lua's `file:line: message` form.
    init(file: String, luaMessage: String) {
        self.file = file
        let prefix = file + ":"
        if luaMessage.hasPrefix(prefix) {
            let rest = luaMessage.dropFirst(prefix.count)
            if let colon = rest.firstIndex(of: ":"), let line = Int(rest[..<colon]) {
                self.line = line
                self.message = String(rest[rest.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                return
            }
        }
        self.line = 0
        self.message = luaMessage
    }

    init(file: String, line: Int = 0, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }
}
