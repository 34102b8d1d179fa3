import CLua
import CLuaBudget

/// What a property hook did, per property (the shim's `CLUA_…` values).
enum HookStatus {
    static let skip = Int8(CLUA_SKIP)
    static let run = Int8(CLUA_RUN)
    static let kept = Int8(CLUA_KEPT)
    static let returned = Int8(CLUA_RETURNED)
    static let failed = Int8(CLUA_FAILED)
    static let tripped = Int8(CLUA_TRIPPED)
    static let noMemory = Int8(CLUA_NOMEM)
    static let requestSpent = Int8(CLUA_TRIPPED_REQUEST)
}

/// One sandboxed Lua state holding one generation's rules: the only type that
/// touches the Lua C API. Create, load (`LuaState+Loading.swift`), call hooks
/// (`LuaState+Hooks.swift`), read memory used, close; values cross in
/// `LuaBridge.swift`.
///
/// Not thread-safe: one caller at a time (``LuaStatePool`` hands them out).
package final class LuaState {
    let L: OpaquePointer
    let budget: OpaquePointer
    let limits: RuleLimits
    var envRef: Int32 = 0
    var rejectRef: Int32 = 0
    var renameRef: Int32 = 0
    var typeOfRef: Int32 = 0
    var matcherRef: Int32 = 0
    /// The `ctx` table (one per state); `contextCallID` and `contextOp` say whose fields it holds.
    var contextRef: Int32 = LUA_NOREF
    var contextCallID: Int?
    var contextOp = 0
    var hookRefs: [(property: Int32?, request: Int32?)] = []
    /// The chain's current properties in Lua (`names[i]`, `values[i]`) and the last hook's `results[i]`.
    var mirrorRefs: (names: Int32, values: Int32, results: Int32) = (LUA_NOREF, LUA_NOREF, LUA_NOREF)
    /// For a name seen before: whether each rule's pattern matches it.
    var patternMatches: [String: [Bool]] = [:]
    var patterns: [String?] = []
    /// Receives `once.log` and answers `ctx.type_of` during a call.
    let callbacks = HookCallbacks()

    static let matcherSource = "local find = string.find; return function(name, pattern) return find(name, pattern) ~= nil end"

    package init(limits: RuleLimits) throws(RuleLoadError) {
        self.limits = limits
        let budgets = limits.nanoseconds
        guard let budget = clua_budget_new(limits.memoryBytes, budgets.call, budgets.request) else {
            throw RuleLoadError(file: "(runtime)", message: "cannot create a Lua state")
        }
        self.budget = budget
        guard let state = clua_newstate(budget) else {
            clua_budget_free(budget)
            throw RuleLoadError(file: "(runtime)", message: "cannot create a Lua state")
        }
        L = state
        clua_set_context(L, Unmanaged.passUnretained(callbacks).toOpaque())
        try bootstrap()
    }

    deinit {
        lua_close(L)
        clua_budget_free(budget)
    }

    /// Runs `body` as one request: its hook calls share the request budget, on this thread.
    func withRequest<T>(_ body: () throws -> T) rethrows -> T {
        clua_begin_request(budget)
        defer { clua_end_request(budget) }
        return try body()
    }

    /// Bytes the state holds now.
    var memoryUsed: Int { clua_budget_used(budget) }

    // MARK: - Bootstrap

    private func bootstrap() throws(RuleLoadError) {
        let file = "(bootstrap)"
        try loadChunk(LuaSandbox.bootstrap, name: "=bootstrap", file: file)
        push(LuaSandbox.allowList)
        clua_push_callback(L, onceDateCallback)
        clua_push_callback(L, onceLogCallback)
        guard clua_pcall(L, 3, 3, 0) == LUA_OK else { throw RuleLoadError(file: file, luaMessage: popError()) }
        renameRef = luaL_ref(L, clua_registryindex())
        rejectRef = luaL_ref(L, clua_registryindex())
        envRef = luaL_ref(L, clua_registryindex())
        clua_push_callback(L, typeOfCallback)
        typeOfRef = luaL_ref(L, clua_registryindex())
        try loadChunk(Self.matcherSource, name: "=matcher", file: file)
        guard clua_pcall(L, 0, 1, 0) == LUA_OK else { throw RuleLoadError(file: file, luaMessage: popError()) }
        matcherRef = luaL_ref(L, clua_registryindex())
    }

    func loadChunk(_ source: String, name: String, file: String) throws(RuleLoadError) {
        var source = source
        let status = source.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { luaL_loadbufferx(L, $0.baseAddress, $0.count, name, "t") }
        }
        guard status == LUA_OK else { throw RuleLoadError(file: file, luaMessage: popError()) }
    }

    /// Calls the function below `arguments` values under the budgets. Returns the failure, if any.
    func call(arguments: Int32) -> String? {
        var tripped = Int32(CLUA_WITHIN)
        let status = clua_budgeted_pcall(L, arguments, 1, &tripped)
        if clua_budget_used(budget) > limits.memoryBytes / 2 { _ = clua_gc_collect(L) }
        if status == LUA_OK { return nil }
        switch Int(tripped) {
        case Int(CLUA_SPENT_CALL): return limits.callSpent
        case Int(CLUA_SPENT_REQUEST): return limits.requestSpent
        case Int(CLUA_SPENT_MEMORY): return limits.memorySpent
        default: return status == LUA_ERRMEM ? limits.memorySpent : popError()
        }
    }

    func popError() -> String {
        defer { clua_pop(L, 1) }
        guard lua_type(L, -1) == LUA_TSTRING else { return "error object is a \(typeName(-1))" }
        var length = 0
        let pointer = clua_tolstring(L, -1, &length)!
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    func typeName(_ index: Int32) -> String {
        String(cString: lua_typename(L, lua_type(L, index)))
    }

    var stack: OpaquePointer { L }
}
