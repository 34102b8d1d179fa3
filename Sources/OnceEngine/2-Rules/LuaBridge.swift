import CLua

/// A Lua value that has no JSON form: a function, a non-sequence table, a
/// string that is not UTF-8, a non-finite number, or a table nested too deep.
struct LuaValueError: Error, CustomStringConvertible {
    var description: String
}

/// The one place values cross between JSON and Lua.
///
/// JSON → Lua: `null` is `nil`, arrays are sequences, objects are tables with
/// string keys, integers stay integers. Lua → JSON: the reverse, where a table
/// is an array if its keys are exactly 1…n; with `allowObjects` (rule
/// declarations and tests) a table with string keys is an object, otherwise
/// it is an error — hook results are property values, and no value is an object.
/// Reads use raw accessors only, so no metamethod runs outside a budgeted call.
extension LuaState {
    static let maxDepth = 32

    func push(_ string: String) {
        // A native string is read in place; a bridged or lazy one is made contiguous first.
        // The closure captures only the state pointer: capturing `self` cost two retains
        // and releases per push.
        let L = stack
        let pushBytes = { (bytes: UnsafeBufferPointer<UInt8>) in
            bytes.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
        if string.utf8.withContiguousStorageIfAvailable(pushBytes) == nil {
            var string = string
            string.withUTF8(pushBytes)
        }
    }

    func push(_ json: JSON) {
        let L = stack
        _ = lua_checkstack(L, 3)
        switch json {
        case .null: lua_pushnil(L)
        case .bool(let bool): lua_pushboolean(L, bool ? 1 : 0)
        case .integer(let integer): lua_pushinteger(L, integer)
        case .decimal(let double): lua_pushnumber(L, double)
        case .outOfRangeNumber(let text): push(text)
        case .string(let string): push(string)
        case .array(let elements):
            lua_createtable(L, Int32(clamping: elements.count), 0)
            for (index, element) in elements.enumerated() {
                push(element)
                lua_rawseti(L, -2, lua_Integer(index + 1))
            }
        case .object(let object):
            lua_createtable(L, 0, Int32(clamping: object.members.count))
            for member in object.members {
                push(member.key)
                push(member.value)
                lua_rawset(L, -3)
            }
        }
    }

    /// The JSON form of the value at `index`; nil for Lua `nil`.
    func read(_ index: Int32, allowObjects: Bool, depth: Int = 0) throws(LuaValueError) -> JSON? {
        let L = stack
        switch lua_type(L, index) {
        case LUA_TNIL, LUA_TNONE:
            return nil
        case LUA_TBOOLEAN:
            return .bool(lua_toboolean(L, index) != 0)
        case LUA_TNUMBER:
            var isInteger: Int32 = 0
            let integer = clua_tointegerx(L, index, &isInteger)
            if clua_isinteger(L, index) != 0, isInteger != 0 { return .integer(integer) }
            let double = clua_tonumberx(L, index, nil)
            guard double.isFinite else { throw LuaValueError(description: "a non-finite number") }
            return .decimal(double)
        case LUA_TSTRING:
            var length = 0
            let pointer = clua_tolstring(L, index, &length)!
            let bytes = UnsafeRawBufferPointer(start: pointer, count: length).bindMemory(to: UInt8.self)
            // Most values are ASCII, which needs no validation.
            if bytes.allSatisfy({ $0 < 0x80 }) { return .string(String(decoding: bytes, as: UTF8.self)) }
            guard let string = String(validating: bytes, as: UTF8.self) else {
                throw LuaValueError(description: "a string that is not valid UTF-8")
            }
            return .string(string)
        case LUA_TTABLE:
            guard depth < Self.maxDepth else { throw LuaValueError(description: "tables nested deeper than \(Self.maxDepth)") }
            return try readTable(lua_absindex(L, index), allowObjects: allowObjects, depth: depth + 1)
        default:
            throw LuaValueError(description: "a \(typeName(index))")
        }
    }

    private func readTable(_ table: Int32, allowObjects: Bool, depth: Int) throws(LuaValueError) -> JSON {
        let L = stack
        guard lua_checkstack(L, 4) != 0 else { throw LuaValueError(description: "a table too deep for the stack") }
        let length = Int(lua_rawlen(L, table))
        var count = 0
        var allStringKeys = true
        lua_pushnil(L)
        while lua_next(L, table) != 0 {
            count += 1
            if lua_type(L, -2) != LUA_TSTRING { allStringKeys = false }
            clua_pop(L, 1)
        }
        if count == length {
            // Keys are exactly 1...n (rawlen found a border and nothing else exists).
            var elements: [JSON] = []
            elements.reserveCapacity(length)
            for position in 1...max(length, 1) where length > 0 {
                lua_rawgeti(L, table, lua_Integer(position))
                defer { clua_pop(L, 1) }
                guard let element = try read(-1, allowObjects: allowObjects, depth: depth) else {
                    throw LuaValueError(description: "a list with a hole")
                }
                elements.append(element)
            }
            return .array(elements)
        }
        guard allowObjects, allStringKeys else {
            throw LuaValueError(description: "a table that is not a sequence")
        }
        var members: [JSONObject.Member] = []
        lua_pushnil(L)
        while lua_next(L, table) != 0 {
            var length = 0
            let pointer = clua_tolstring(L, -2, &length)!
            let key = String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
            do {
                if let value = try read(-1, allowObjects: true, depth: depth) { members.append(.init(key, value)) }
            } catch {
                clua_pop(L, 2)
                throw error
            }
            clua_pop(L, 1)
        }
        members.sort { $0.key < $1.key }
        return .object(JSONObject(members))
    }
}
