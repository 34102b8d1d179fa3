/// Budgets for rule code (SPEC §4): CPU time per hook call and per request, memory per Lua state.
///
/// CPU time is the running thread's, not wall time, so a loaded machine does
/// not fail good rules. The budgets cost nothing while a rule stays inside
/// them (see `Sources/CLuaBudget/budget.c`): a watchdog samples the CPU clocks and
/// only a call past its budget gets a hook.
public struct RuleLimits: Sendable, Equatable {
    /// CPU time one hook call may take.
    public var callTimeout: Duration
    /// CPU time all of one request's hook calls may take together; once spent,
    /// the request's remaining hook calls fail under each rule's `on_error`.
    public var requestBudget: Duration
    /// Bytes per Lua state.
    public var memoryBytes: Int

    /// The defaults are SPEC §4's: 10 ms per call, 250 ms per request, 16 MiB per state.
    public init(callTimeout: Duration = .milliseconds(10), requestBudget: Duration = .milliseconds(250),
                memoryBytes: Int = 16 * 1024 * 1024) {
        self.callTimeout = callTimeout
        self.requestBudget = requestBudget
        self.memoryBytes = memoryBytes
    }

    /// What an outcome's reason says of each budget.
    var callSpent: String { "rule budget exceeded (\(Self.milliseconds(callTimeout)) ms)" }
    var requestSpent: String { "request rule budget exceeded (\(Self.milliseconds(requestBudget)) ms)" }
    var memorySpent: String { "memory limit of \(memoryBytes) bytes exceeded" }

    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let value = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        return value == value.rounded() ? String(Int(value)) : String(value)
    }

    var nanoseconds: (call: Int64, request: Int64) {
        func ns(_ duration: Duration) -> Int64 {
            let (seconds, attoseconds) = duration.components
            return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        }
        return (ns(callTimeout), ns(requestBudget))
    }
}
