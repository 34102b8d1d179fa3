import CLua
import CLuaBudget
import Foundation

/// Calling hooks: the chain's property loop in C over the mirrored properties,
/// request hooks, and reading what a hook returned.
extension LuaState {
    /// Whether rule `index` applies to property `name` (its `properties` pattern).
    /// Names repeat, so a name's first sight matches it against every rule's pattern
    /// at once, and later ones cost one lookup, whichever rule asks.
    func ruleMatches(_ index: Int, name: String) -> Bool {
        if let known = patternMatches[name] { return known[index] }
        let all = patterns.map { pattern in
            guard let pattern else { return true }
            if case .matched(true) = matches(name: name, pattern: pattern) { return true }
            return false
        }
        if patternMatches.count >= 10_000 { patternMatches = [:] }
        patternMatches[name] = all
        return all[index]
    }

    enum MatchResult { case matched(Bool), failed(String) }

    func matches(name: String, pattern: String) -> MatchResult {
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
        var status = HookStatus.run
        let outcome = withUnsafeMutablePointer(to: &status) {
            callPropertyHook(index, statuses: UnsafeMutableBufferPointer(start: $0, count: 1), context: context)
        }
        if case .failed(let failure) = outcome { return .failed(failure) }
        return hookResult(at: 0, status: status)
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
            // No hook reads a settled property's value: one that can never be stored stays out of Lua.
            if properties[position].isLive { push(properties[position].value) } else { lua_pushnil(L) }
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

    /// What one call of ``callPropertyHook(_:statuses:context:)`` came to.
    enum LoopOutcome {
        /// Every property it ran on kept its value: nothing to read back.
        case allKept
        /// Some statuses say the hook returned something or failed.
        case changed
        /// The loop itself failed, leaving the rest at `run`.
        case failed(String)

        var failure: String? {
            if case .failed(let message) = self { return message }
            return nil
        }
    }

    /// Calls rule `index`'s property hook on every mirrored property whose status
    /// is ``HookStatus/run``, each under the budgets, in one call into C; each
    /// status then tells what the hook did (``hookResult(at:status:)`` reads it).
    func callPropertyHook(_ index: Int, statuses: UnsafeMutableBufferPointer<Int8>, context: HookContext) -> LoopOutcome {
        guard let ref = hookRefs[index].property else {
            for position in statuses.indices where statuses[position] == HookStatus.run { statuses[position] = HookStatus.kept }
            return .allKept
        }
        lua_settop(L, 0)
        defer { lua_settop(L, 0) }
        callbacks.ruleIndex = index
        clua_push_each_property(L)
        lua_pushlightuserdata(L, statuses.baseAddress)
        lua_pushinteger(L, lua_Integer(statuses.count))
        lua_rawgeti(L, clua_registryindex(), lua_Integer(ref))
        lua_rawgeti(L, clua_registryindex(), lua_Integer(mirrorRefs.names))
        lua_rawgeti(L, clua_registryindex(), lua_Integer(mirrorRefs.values))
        pushContext(context)
        lua_rawgeti(L, clua_registryindex(), lua_Integer(mirrorRefs.results))
        guard clua_pcall(L, 7, 1, 0) == LUA_OK else { return .failed(popError()) }
        return lua_tointegerx(L, -1, nil) == 0 ? .allKept : .changed
    }

    /// What the hook did to the property at `position`, given its status after ``callPropertyHook(_:statuses:context:)``.
    func hookResult(at position: Int, status: Int8) -> PropertyHookResult {
        switch status {
        case HookStatus.kept: return .keep
        case HookStatus.tripped: return .failed(limits.callSpent)
        case HookStatus.requestSpent: return .failed(limits.requestSpent)
        case HookStatus.noMemory: return .failed(limits.memorySpent)
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

    /// Calls rule `index`'s request hook with `(req, ctx)`; `req.properties` holds the live `properties`.
    package func callRequest(_ index: Int, properties: [RuledProperty], context: HookContext) -> RequestHookResult {
        guard let ref = hookRefs[index].request else { return .unchanged }
        lua_settop(L, 0)
        defer { lua_settop(L, 0) }
        callbacks.ruleIndex = index
        lua_createtable(L, 0, Int32(clamping: properties.count))      // 1: req.properties
        for position in properties.indices where properties[position].isLive {
            push(properties[position].name)
            push(properties[position].value)
            lua_rawset(L, 1)
        }
        clua_push_shallow_copy(L, 1)                                   // 2: what it held before the call
        lua_createtable(L, 0, 3)                                       // 3: req
        lua_pushvalue(L, 1)
        lua_setfield(L, 3, "properties")
        push(context.distinctID)
        lua_setfield(L, 3, "distinct_id")
        push(context.op.rawValue)
        lua_setfield(L, 3, "op")
        lua_rawgeti(L, clua_registryindex(), lua_Integer(ref))
        lua_pushvalue(L, 3)
        pushContext(context)
        if let failure = call(arguments: 2) { return .failed(failure) }
        if case .reject(let reason)? = marker(at: -1) { return .reject(reason: reason) }
        guard lua_type(L, -1) == LUA_TNIL else { return .failed("a request hook returns nothing or once.reject(reason)") }
        lua_pushstring(L, "properties")
        lua_rawget(L, 3)
        // Most request hooks change nothing for most requests: then nothing crosses back.
        if clua_same_entries(L, -1, 2) != 0 { return .unchanged }
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

    /// Pushes `ctx`: one read-only table per state whose fields are made when a hook
    /// first reads them (``contextFieldCallback``) and forgotten when the op changes.
    func pushContext(_ context: HookContext) {
        if contextRef == LUA_NOREF {
            lua_createtable(L, 0, 8)
            lua_rawgeti(L, clua_registryindex(), lua_Integer(typeOfRef))
            lua_setfield(L, -2, "type_of")
            clua_push_context_metatable(L, contextFieldCallback)
            lua_setmetatable(L, -2)
            contextRef = luaL_ref(L, clua_registryindex())
        }
        lua_rawgeti(L, clua_registryindex(), lua_Integer(contextRef))
        guard contextCallID != context.callID || contextOp != context.opIndex else { return }
        if callbacks.contextRead {
            for field in HookContext.fields {
                lua_pushstring(L, field)
                lua_pushnil(L)
                lua_rawset(L, -3)
            }
            callbacks.contextRead = false
        }
        callbacks.context = context
        contextCallID = context.callID
        contextOp = context.opIndex
    }

    /// A `once.reject` or `once.rename` value at `index`, if that is what it is.
    func marker(at index: Int32) -> PropertyHookResult? {
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
}
