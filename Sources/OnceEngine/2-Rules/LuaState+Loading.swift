import CLua
import CLuaBudget

/// Loading a rule file: run its chunk in the sandbox, read its declaration, keep its hooks.
extension LuaState {
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

    func readRule(file: String) throws(RuleLoadError) -> Rule {
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
        patternMatches = [:]  // each entry has one answer per rule
        callbacks.ruleNames.append(name)
        return Rule(file: file, name: name, ops: ops, workspaces: workspaces, propertyPattern: pattern, onError: onError,
                    hasPropertyHook: propertyRef != nil, hasRequestHook: requestRef != nil, tests: tests)
    }

    /// Pushes `table[key]` of the table at index 1, without metamethods.
    func rawField(_ key: String) {
        lua_pushstring(L, key)
        lua_rawget(L, 1)
    }

    func functionRef(_ key: String, file: String) throws(RuleLoadError) -> Int32? {
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
}
