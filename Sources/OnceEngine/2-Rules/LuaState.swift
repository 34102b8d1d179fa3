import CLua

/// Budgets for rule code (SPEC §4).
public struct RuleLimits: Sendable, Equatable {
    /// Lua VM instructions per hook call.
    public var instructions = 1_000_000
    /// Bytes per Lua state.
    public var memoryBytes = 16 * 1024 * 1024

    /// Budgets; the defaults are SPEC §4's.
    public init(instructions: Int = 1_000_000, memoryBytes: Int = 16 * 1024 * 1024) {
        self.instructions = instructions
        self.memoryBytes = memoryBytes
    }
}

/// What a property hook did, per property (the shim's `CLUA_…` values).
enum HookStatus {
    static let skip = Int8(CLUA_SKIP)
    static let run = Int8(CLUA_RUN)
    static let kept = Int8(CLUA_KEPT)
    static let returned = Int8(CLUA_RETURNED)
    static let failed = Int8(CLUA_FAILED)
    static let tripped = Int8(CLUA_TRIPPED)
    static let noMemory = Int8(CLUA_NOMEM)
}

/// One sandboxed Lua state holding one generation's rules: the only type that
/// touches the Lua C API. Create, load, call a hook, read memory used, close.
///
/// Not thread-safe: one caller at a time (``LuaStatePool`` hands them out).
package final class LuaState {
    private let L: OpaquePointer
    private let budget: UnsafeMutablePointer<clua_budget>
    let limits: RuleLimits
    private var envRef: Int32 = 0
    private var rejectRef: Int32 = 0
    private var renameRef: Int32 = 0
    private var typeOfRef: Int32 = 0
    private var matcherRef: Int32 = 0
    /// The `ctx` table of the current (request, element, op), reused across its hook calls.
    private var contextRef: Int32 = LUA_NOREF
    private var contextCallID: Int?
    private var hookRefs: [(property: Int32?, request: Int32?)] = []
    /// The chain's current properties in Lua (`names[i]`, `values[i]`) and the last hook's `results[i]`.
    private var mirrorRefs: (names: Int32, values: Int32, results: Int32) = (LUA_NOREF, LUA_NOREF, LUA_NOREF)
    /// Whether rule `i`'s pattern matches a name; names repeat, so this saves a call.
    private var patternCache: [Int: [String: Bool]] = [:]
    private var patterns: [String?] = []
    /// Receives `once.log` and answers `ctx.type_of` during a call.
    let callbacks = HookCallbacks()

    static let matcherSource = "local find = string.find; return function(name, pattern) return find(name, pattern) ~= nil end"

    package init(limits: RuleLimits) throws(RuleLoadError) {
        self.limits = limits
        budget = .allocate(capacity: 1)
        budget.initialize(to: clua_budget(used: 0, limit: limits.memoryBytes, enforcing: 0,
                                          instruction_budget: Int32(clamping: limits.instructions),
                                          tripped: Int32(CLUA_WITHIN), state: nil))
        guard let state = clua_newstate(budget) else {
            budget.deallocate()
            throw RuleLoadError(file: "(runtime)", message: "cannot create a Lua state")
        }
        L = state
        clua_set_context(L, Unmanaged.passUnretained(callbacks).toOpaque())
        try bootstrap()
    }

    deinit {
        lua_close(L)
        budget.deallocate()
    }

    /// Bytes the state holds now.
    var memoryUsed: Int { budget.pointee.used }

    // MARK: - Loading

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

    private func loadChunk(_ source: String, name: String, file: String) throws(RuleLoadError) {
        var source = source
        let status = source.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { luaL_loadbufferx(L, $0.baseAddress, $0.count, name, "t") }
        }
        guard status == LUA_OK else { throw RuleLoadError(file: file, luaMessage: popError()) }
    }

    /// Runs one rule file in the sandbox and keeps its hooks. Returns its declaration.
    package func load(file: String, source: String) throws(RuleLoadError) -> Rule {
        lua_settop(L, 0)
        try loadChunk(source, name: "@" + file, file: file)
        lua_rawgeti(L, clua_registryindex(), lua_Integer(envRef))
        _ = lua_setupvalue(L, -2, 1)  // the chunk's _ENV
        // A file's top-level code runs under the same budgets as its hooks.
        if let failure = call(arguments: 0) { throw RuleLoadError(file: file, luaMessage: failure) }
        guard lua_type(L, -1) == LUA_TTABLE else {
            throw RuleLoadError(file: file, message: "a rule file must return a table, not \(typeName(-1))")
        }
        defer { lua_settop(L, 0) }
        return try readRule(file: file)
    }

    private func readRule(file: String) throws(RuleLoadError) -> Rule {
        func fail(_ message: String) -> RuleLoadError { RuleLoadError(file: file, message: message) }
        func field(_ key: String) -> JSON? {
            rawField(key)
            defer { clua_pop(L, 1) }
            return try? read(-1, allowObjects: true)
        }
        func strings(_ key: String) throws(RuleLoadError) -> [String]? {
            guard let json = field(key) else { return nil }
            guard case .array(let items) = json, let strings = Optional(items.compactMap(\.stringValue)),
                  strings.count == items.count else { throw fail("\(key) must be a list of strings") }
            return strings
        }
        let defaultName = file.hasSuffix(".lua") ? String(file.dropLast(4)) : file
        let name: String
        switch field("name") {
        case nil: name = defaultName
        case .string(let string)?: name = string
        default: throw fail("name must be a string")
        }
        var ops = Rule.defaultOps
        if let names = try strings("ops") {
            ops = []
            for opName in names {
                guard let op = Op(rawValue: opName) else { throw fail("unknown op \"\(opName)\" in ops") }
                ops.insert(op)
            }
        }
        let workspaces = try strings("workspaces").map(Set.init)
        var pattern: String?
        switch field("properties") {
        case nil: pattern = nil
        case .string(let string)?: pattern = string
        default: throw fail("properties must be a Lua pattern (a string)")
        }
        var onError = Rule.OnError.keep
        switch field("on_error") {
        case nil: break
        case .string(let string)?:
            guard let value = Rule.OnError(rawValue: string) else { throw fail("on_error must be \"keep\" or \"reject\"") }
            onError = value
        default: throw fail("on_error must be \"keep\" or \"reject\"")
        }
        let propertyRef = try functionRef("property", file: file)
        let requestRef = try functionRef("request", file: file)
        guard propertyRef != nil || requestRef != nil else { throw fail("a rule needs a property or a request function") }
        var tests: [JSON] = []
        rawField("tests")
        if lua_type(L, -1) != LUA_TNIL {
            do {
                guard case .array(let entries) = try read(-1, allowObjects: true) else { throw fail("tests must be a list") }
                tests = entries
            } catch let error as RuleLoadError {
                throw error
            } catch {
                throw fail("tests: \(error)")
            }
        }
        clua_pop(L, 1)
        if let pattern {
            if case .failed(let message) = matches(name: "", pattern: pattern) {
                throw fail("properties is not a valid Lua pattern: \(message)")
            }
        }
        hookRefs.append((propertyRef, requestRef))
        patterns.append(pattern)
        callbacks.ruleNames.append(name)
        return Rule(file: file, name: name, ops: ops, workspaces: workspaces, propertyPattern: pattern, onError: onError,
                    hasPropertyHook: propertyRef != nil, hasRequestHook: requestRef != nil, tests: tests)
    }

    /// Pushes `table[key]` of the table at index 1, without metamethods.
    private func rawField(_ key: String) {
        lua_pushstring(L, key)
        lua_rawget(L, 1)
    }

    private func functionRef(_ key: String, file: String) throws(RuleLoadError) -> Int32? {
        rawField(key)
        switch lua_type(L, -1) {
        case LUA_TNIL:
            clua_pop(L, 1)
            return nil
        case LUA_TFUNCTION:
            return luaL_ref(L, clua_registryindex())
        default:
            let type = typeName(-1)
            clua_pop(L, 1)
            throw RuleLoadError(file: file, message: "\(key) must be a function, not \(type)")
        }
    }

    // MARK: - Calling hooks

    /// Whether rule `index` applies to property `name` (its `properties` pattern).
    func ruleMatches(_ index: Int, name: String) -> Bool {
        guard let pattern = patterns[index] else { return true }
        if let cached = patternCache[index]?[name] { return cached }
        let result: Bool
        switch matches(name: name, pattern: pattern) {
        case .matched(let matched): result = matched
        case .failed: result = false
        }
        if patternCache[index, default: [:]].count > 10_000 { patternCache[index] = [:] }
        patternCache[index, default: [:]][name] = result
        return result
    }

    private enum MatchResult { case matched(Bool), failed(String) }

    private func matches(name: String, pattern: String) -> MatchResult {
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }
        lua_rawgeti(L, clua_registryindex(), lua_Integer(matcherRef))
        push(name)
        push(pattern)
        guard call(arguments: 2) == nil else { return .failed(popError()) }
        return .matched(lua_toboolean(L, -1) != 0)
    }

    /// Calls rule `index`'s property hook with `(name, value, ctx)`.
    package func callProperty(_ index: Int, name: String, value: JSON, context: HookContext) -> PropertyHookResult {
        mirror([RuledProperty(name: name, value: value)])
        var statuses = [HookStatus.run]
        if let failure = callPropertyHook(index, statuses: &statuses, context: context) { return .failed(failure) }
        return hookResult(at: 0, status: statuses[0])
    }

    /// Puts `properties` in Lua for ``callPropertyHook(_:statuses:context:)``, replacing the last ones.
    /// The three tables live as long as the state: new ones per request were garbage for Lua's collector.
    func mirror(_ properties: [RuledProperty]) {
        lua_settop(L, 0)
        if mirrorRefs.names == LUA_NOREF {
            for _ in 0..<3 { lua_createtable(L, Int32(clamping: properties.count), 0) }
            mirrorRefs.results = luaL_ref(L, clua_registryindex())
            mirrorRefs.values = luaL_ref(L, clua_registryindex())
            mirrorRefs.names = luaL_ref(L, clua_registryindex())
        }
        lua_rawgeti(L, clua_registryindex(), lua_Integer(mirrorRefs.names))
        lua_rawgeti(L, clua_registryindex(), lua_Integer(mirrorRefs.values))
        lua_rawgeti(L, clua_registryindex(), lua_Integer(mirrorRefs.results))
        for position in properties.indices {  // by index: a copy of each property costs more than its push
            push(properties[position].name)
            lua_rawseti(L, 1, lua_Integer(position + 1))
            push(properties[position].value)
            lua_rawseti(L, 2, lua_Integer(position + 1))
        }
        // Drop what the last, longer mirror left beyond the end, so it can be collected.
        var end = lua_Integer(properties.count + 1)
        while lua_rawgeti(L, 1, end) != LUA_TNIL {
            clua_pop(L, 1)
            for table: Int32 in 1...3 {
                lua_pushnil(L)
                lua_rawseti(L, table, end)
            }
            end += 1
        }
        lua_settop(L, 0)
    }

    /// Changes one mirrored property (a fresh copy of `value`, so a table a hook changed in place is not kept).
    func setMirrored(_ position: Int, name: String? = nil, value: JSON) {
        lua_settop(L, 0)
        if let name {
            lua_rawgeti(L, clua_registryindex(), lua_Integer(mirrorRefs.names))
            push(name)
            lua_rawseti(L, 1, lua_Integer(position + 1))
            lua_settop(L, 0)
        }
        lua_rawgeti(L, clua_registryindex(), lua_Integer(mirrorRefs.values))
        push(value)
        lua_rawseti(L, 1, lua_Integer(position + 1))
        lua_settop(L, 0)
    }

    /// Makes what the last hook returned for `position` its mirrored value
    /// (the same value as its JSON form; a table is pushed afresh before the next hook anyway).
    func adoptReturned(_ position: Int) {
        lua_settop(L, 0)
        lua_rawgeti(L, clua_registryindex(), lua_Integer(mirrorRefs.values))
        lua_rawgeti(L, clua_registryindex(), lua_Integer(mirrorRefs.results))
        lua_rawgeti(L, 2, lua_Integer(position + 1))
        lua_rawseti(L, 1, lua_Integer(position + 1))
        lua_settop(L, 0)
    }

    /// Calls rule `index`'s property hook on every mirrored property whose status
    /// is ``HookStatus/run``, each under the budgets, in one call into C; each
    /// status then tells what the hook did (``hookResult(at:status:)`` reads it).
    /// Returns a failure of the loop itself, which leaves the rest at `run`.
    func callPropertyHook(_ index: Int, statuses: inout [Int8], context: HookContext) -> String? {
        guard let ref = hookRefs[index].property else {
            for position in statuses.indices where statuses[position] == HookStatus.run { statuses[position] = HookStatus.kept }
            return nil
        }
        lua_settop(L, 0)
        defer { lua_settop(L, 0) }
        callbacks.ruleIndex = index
        let count = statuses.count
        return statuses.withUnsafeMutableBufferPointer { statuses in
            clua_push_each_property(L)
            lua_pushlightuserdata(L, statuses.baseAddress)
            lua_pushinteger(L, lua_Integer(count))
            lua_rawgeti(L, clua_registryindex(), lua_Integer(ref))
            lua_rawgeti(L, clua_registryindex(), lua_Integer(mirrorRefs.names))
            lua_rawgeti(L, clua_registryindex(), lua_Integer(mirrorRefs.values))
            pushContext(context)
            lua_rawgeti(L, clua_registryindex(), lua_Integer(mirrorRefs.results))
            return clua_pcall(L, 7, 0, 0) == LUA_OK ? nil : popError()
        }
    }

    /// What the hook did to the property at `position`, given its status after ``callPropertyHook(_:statuses:context:)``.
    func hookResult(at position: Int, status: Int8) -> PropertyHookResult {
        switch status {
        case HookStatus.kept: return .keep
        case HookStatus.tripped: return .failed("instruction budget of \(limits.instructions) exceeded")
        case HookStatus.noMemory: return .failed("memory limit of \(limits.memoryBytes) bytes exceeded")
        default: break
        }
        lua_settop(L, 0)
        defer { lua_settop(L, 0) }
        lua_rawgeti(L, clua_registryindex(), lua_Integer(mirrorRefs.results))
        lua_rawgeti(L, 1, lua_Integer(position + 1))
        if status == HookStatus.failed { return .failed(popError()) }
        if let marker = marker(at: -1) { return marker }
        do {
            guard let json = try read(-1, allowObjects: false) else { return .keep }
            return .replace(json)
        } catch {
            return .failed("the property hook returned \(error)")
        }
    }

    /// Calls rule `index`'s request hook with `(req, ctx)`; `req.properties` holds `properties`.
    package func callRequest(_ index: Int, properties: [String: JSON], context: HookContext) -> RequestHookResult {
        guard let ref = hookRefs[index].request else { return .properties(properties) }
        lua_settop(L, 0)
        defer { lua_settop(L, 0) }
        callbacks.ruleIndex = index
        lua_rawgeti(L, clua_registryindex(), lua_Integer(ref))
        lua_createtable(L, 0, 3)                                   // req
        push(.object(JSONObject(properties.map { .init($0.key, $0.value) })))
        lua_setfield(L, -2, "properties")
        push(context.distinctID)
        lua_setfield(L, -2, "distinct_id")
        push(context.op.rawValue)
        lua_setfield(L, -2, "op")
        lua_pushvalue(L, -1)
        lua_rotate(L, 1, 1)                                        // a copy of req below the call
        pushContext(context)
        if let failure = call(arguments: 2) { return .failed(failure) }
        if case .reject(let reason)? = marker(at: -1) { return .reject(reason: reason) }
        guard lua_type(L, -1) == LUA_TNIL else { return .failed("a request hook returns nothing or once.reject(reason)") }
        lua_pushstring(L, "properties")
        lua_rawget(L, 1)
        do {
            switch try read(-1, allowObjects: true) {
            case .object(let object)?:
                return .properties(Dictionary(object.members.map { ($0.key, $0.value) }) { first, _ in first })
            case .array(let array)? where array.isEmpty:
                return .properties([:])
            default:
                return .failed("req.properties must stay a table of names to values")
            }
        } catch {
            return .failed("req.properties holds \(error)")
        }
    }

    /// Calls the function below `arguments` values under the budgets. Returns the failure, if any.
    private func call(arguments: Int32) -> String? {
        var tripped = Int32(CLUA_WITHIN)
        let status = clua_budgeted_pcall(L, arguments, 1, &tripped)
        if budget.pointee.used > limits.memoryBytes / 2 { _ = clua_gc_collect(L) }
        if status == LUA_OK { return nil }
        if tripped == CLUA_SPENT_INSTRUCTIONS { return "instruction budget of \(limits.instructions) exceeded" }
        if tripped == CLUA_SPENT_MEMORY || status == LUA_ERRMEM { return "memory limit of \(limits.memoryBytes) bytes exceeded" }
        return popError()
    }

    /// Pushes `ctx`, building it only when the context differs from the last call's.
    private func pushContext(_ context: HookContext) {
        if contextCallID == context.callID {
            lua_rawgeti(L, clua_registryindex(), lua_Integer(contextRef))
            return
        }
        callbacks.types = context.types
        luaL_unref(L, clua_registryindex(), contextRef)
        lua_createtable(L, 0, 7)
        for (key, value) in [("workspace", context.namespace.workspace), ("version", context.namespace.version.rawValue),
                             ("distinct_id", context.distinctID), ("op", context.op.rawValue),
                             ("request_id", context.requestID), ("received_at", context.receivedAt)] {
            push(value)
            lua_setfield(L, -2, key)
        }
        lua_rawgeti(L, clua_registryindex(), lua_Integer(typeOfRef))
        lua_setfield(L, -2, "type_of")
        lua_pushvalue(L, -1)
        contextRef = luaL_ref(L, clua_registryindex())
        contextCallID = context.callID
    }

    /// A `once.reject` or `once.rename` value at `index`, if that is what it is.
    private func marker(at index: Int32) -> PropertyHookResult? {
        let table = lua_absindex(L, index)
        guard lua_type(L, table) == LUA_TTABLE, lua_getmetatable(L, table) != 0 else { return nil }
        defer { clua_pop(L, 1) }
        lua_rawgeti(L, clua_registryindex(), lua_Integer(rejectRef))
        let isReject = lua_rawequal(L, -1, -2) != 0
        clua_pop(L, 1)
        if isReject {
            lua_pushstring(L, "reason")
            lua_rawget(L, table)
            defer { clua_pop(L, 1) }
            return .reject(reason: (try? read(-1, allowObjects: false))??.stringValue ?? "rejected")
        }
        lua_rawgeti(L, clua_registryindex(), lua_Integer(renameRef))
        let isRename = lua_rawequal(L, -1, -2) != 0
        clua_pop(L, 1)
        guard isRename else { return nil }
        lua_pushstring(L, "name")
        lua_rawget(L, table)
        let name = (try? read(-1, allowObjects: false))??.stringValue
        clua_pop(L, 1)
        lua_pushstring(L, "value")
        lua_rawget(L, table)
        defer { clua_pop(L, 1) }
        guard let name else { return .failed("once.rename needs a string name") }
        do {
            return .rename(name: name, value: try read(-1, allowObjects: false) ?? .null)
        } catch {
            return .failed("once.rename was given \(error)")
        }
    }

    private func popError() -> String {
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
