/// What a rule may touch: the whole sandbox policy, as data (SPEC §4).
///
/// Everything not listed here is out of reach: `io`, `os.execute`, `require`,
/// `load`, `loadfile`, `dofile`, `debug`, `package`, `collectgarbage`,
/// `coroutine`, `rawset` (which would write through the read-only tables),
/// `string.dump` and `print`. `xpcall` and `setmetatable` are wrapped (see
/// the bootstrap) so no rule code can run where the budget hook cannot fire.
enum LuaSandbox {
    static let baseFunctions = [
        "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
        "rawlen", "select", "setmetatable", "tonumber", "tostring", "type", "xpcall", "_VERSION",
    ]

    static let libraries: [String: [String]] = [
        "string": ["byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match", "pack",
                   "packsize", "rep", "reverse", "sub", "unpack", "upper"],
        "table": ["concat", "insert", "move", "pack", "remove", "sort", "unpack"],
        "math": ["abs", "ceil", "cos", "deg", "exp", "floor", "fmod", "huge", "log", "max", "maxinteger",
                 "min", "mininteger", "modf", "pi", "rad", "random", "randomseed", "sin", "sqrt", "tan",
                 "tointeger", "type", "ult"],
        "utf8": ["char", "charpattern", "codepoint", "codes", "len", "offset"],
        "os": ["clock", "date", "time"],
    ]

    /// Runs once per state, with the full standard library, and returns
    /// `env, reject_mt, rename_mt, once`: the read-only environment every rule
    /// chunk runs in, and the markers of `once.reject` and `once.rename` values.
    /// Its arguments: the allow-list, then the `once.date` and `once.log` functions.
    static let bootstrap = """
        local allowed, date, log = ...
        local function readonly(t, name)
            return setmetatable({}, {
                __index = t,
                __newindex = function() error(name .. " is read-only", 2) end,
                __metatable = false,
            })
        end
        local sandbox = {}
        for _, name in ipairs(allowed.base) do sandbox[name] = _G[name] end
        -- Lua runs message handlers and __gc finalizers with hooks off, where the
        -- budget hook cannot reach them. So xpcall calls its handler after
        -- the error, as ordinary code, and no metatable may carry __gc.
        local pcall, setmetatable, rawget, pack, unpack = pcall, setmetatable, rawget, table.pack, table.unpack
        sandbox.xpcall = function(f, handler, ...)
            local results = pack(pcall(f, ...))
            if results[1] then return unpack(results, 1, results.n) end
            return false, handler(results[2])
        end
        sandbox.setmetatable = function(t, mt)
            if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
                error("__gc metamethods are not allowed in rules", 2)
            end
            return setmetatable(t, mt)
        end
        for library, names in pairs(allowed.libraries) do
            local copy = {}
            for _, name in ipairs(names) do copy[name] = _G[library][name] end
            sandbox[library] = readonly(copy, library)
        end
        -- getmetatable("") would otherwise hand out the real, writable string library.
        getmetatable("").__metatable = false
        local reject_mt, rename_mt = { __metatable = false }, { __metatable = false }
        local once = {
            reject = function(reason)
                return setmetatable({ reason = tostring(reason or "rejected") }, reject_mt)
            end,
            rename = function(name, value)
                if type(name) ~= "string" then error("once.rename: the new name must be a string", 2) end
                return setmetatable({ name = name, value = value }, rename_mt)
            end,
            date = date,
            log = log,
        }
        sandbox.once = readonly(once, "once")
        return readonly(sandbox, "the global environment"), reject_mt, rename_mt
        """

    /// The allow-list as the JSON the bootstrap receives.
    static var allowList: JSON {
        .object(JSONObject([
            .init("base", .array(baseFunctions.map(JSON.string))),
            .init("libraries", .object(JSONObject(libraries.sorted { $0.key < $1.key }.map {
                .init($0.key, .array($0.value.map(JSON.string)))
            }))),
        ]))
    }
}
