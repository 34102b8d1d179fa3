import Foundation
import GRDB

/// ``StoreTransaction`` on an open SQLite write transaction, over storage v2's
/// integer ids (``StorageV2``).
///
/// Every step that depends on stored state is one conditional statement:
/// set-once is `INSERT … ON CONFLICT DO NOTHING RETURNING`, and what it
/// returns are the properties it stored; a name registers with the same kind
/// of insert and the winner is read back. Reading a list and writing it back
/// is safe here because SQLite transactions are `BEGIN IMMEDIATE`: the
/// database is write-locked, across processes, until commit.
struct SQLiteTransaction: LockedListEditing {
    let db: Database
    let namespace: Int64
    let now: Int64
    let request: UUID
    private let ids: SQLiteIDs
    /// Names this request read, registered or found cached (room for a typical request's, grown once at most).
    private var names = [String: SQLiteIDs.RegisteredName](minimumCapacity: 8)
    /// The names of ``names`` the cache did not have: it learns them once the request commits.
    private(set) var learned: [String: SQLiteIDs.RegisteredName] = [:]
    /// Names this request dropped: the batch must not teach the cache their old ids.
    private(set) var dropped: [String] = []
    /// The ids of the profiles this request has found or created.
    private var profiles: [String: Int64] = [:]
    /// Profiles this request created and has written no value to yet: a
    /// set-once there cannot meet a stored value, so it needs no `RETURNING`
    /// (which costs SQLite a temporary table per statement).
    private var empty: [Int64] = []

    /// `namespace`: its id, from ``namespaceID(_:in:)``.
    init(db: Database, ids: SQLiteIDs, namespace: Int64, request: PreparedRequest) {
        self.db = db
        self.ids = ids
        self.namespace = namespace
        self.now = request.receivedAt.epochMilliseconds
        self.request = request.id
    }

    /// The namespace's id, made on its first write.
    static func namespaceID(_ namespace: Namespace, in db: Database) throws -> Int64 {
        let find = try db.cachedStatement(sql: "SELECT id FROM namespaces WHERE workspace = ? AND version = ?")
        func bind(_ binder: inout SQLiteBinder) { binder.text(namespace.workspace); binder.text(namespace.version.rawValue) }
        if let id = try SQLiteBinder.integer(find, in: db, bind) { return id }
        return try SQLiteBinder.integer(db.cachedStatement(sql: "INSERT INTO namespaces (workspace, version) VALUES (?, ?) RETURNING id"),
                                        in: db, bind)!
    }

    mutating func registeredType(_ name: String, registering candidate: PropertyType?) throws -> PropertyType? {
        try registeredName(name, registering: candidate)?.type
    }

    private mutating func registeredName(_ name: String, registering candidate: PropertyType?) throws -> SQLiteIDs.RegisteredName? {
        if let known = names[name] { return known }
        if let cached = ids.name(.init(namespace: namespace, name: name)) {
            names[name] = cached
            return cached
        }
        if let candidate {
            try run(Self.registerName) { $0.integer(namespace); $0.text(name); $0.text(candidate.rawValue); $0.integer(now) }
        }
        guard let row = try Row.fetchOne(db.cachedStatement(sql: Self.selectName), arguments: [namespace, name]) else { return nil }
        let registered = SQLiteIDs.RegisteredName(id: row[0], type: try PropertyType(stored: row[1]))
        names[name] = registered
        learned[name] = registered
        return registered
    }

    /// The id of a name this request has resolved (every write resolves its name's type first).
    private func nameID(_ name: String) -> Int64 {
        guard let id = names[name]?.id else { preconditionFailure("\(name) written before its type was resolved") }
        return id
    }

    /// The new row's id is SQLite's last inserted rowid, not a `RETURNING`: that
    /// costs a temporary table per statement, ~3 µs of the writer's time per profile.
    mutating func createProfile(_ distinctID: String) throws -> Bool {
        let inserted = try run(Self.insertProfile) { binder in
            binder.integer(namespace); binder.text(distinctID); binder.integer(now); binder.integer(now)
        }
        guard inserted > 0 else {
            _ = try profileID(distinctID)
            return false
        }
        let id = db.lastInsertedRowID
        profiles[distinctID] = id
        empty.append(id)
        return true
    }

    /// The profile's id, or nil when there is no such profile (an `unset` does not create one).
    private mutating func profileID(_ distinctID: String) throws -> Int64? {
        if let id = profiles[distinctID] { return id }
        let id = try SQLiteBinder.integer(db.cachedStatement(sql: Self.selectProfile), in: db) { binder in
            binder.integer(namespace); binder.text(distinctID)
        }
        profiles[distinctID] = id
        return id
    }

    mutating func touchProfile(_ distinctID: String) throws {
        guard let profile = try profileID(distinctID) else { return }
        try run(Self.touchProfile) { $0.integer(now); $0.integer(profile) }
    }

    mutating func insertIfAbsent(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool {
        try insertEachIfAbsent(distinctID, [(name, value)])[0]
    }

    /// One multi-row insert per ``maxRowsPerInsert`` values; the ids it returns
    /// are the names it stored (into a profile with no values yet, all of them).
    mutating func insertEachIfAbsent(_ distinctID: String, _ values: [(name: String, value: PropertyValue)]) throws -> [Bool] {
        guard !values.isEmpty else { return [] }
        guard let profile = try profileID(distinctID) else { return values.map { _ in false } }
        let wasEmpty = wrote(profile)
        var stored: [Bool] = []
        stored.reserveCapacity(values.count)
        var start = 0
        while start < values.count {
            let chunk = values[start..<min(start + Self.maxRowsPerInsert, values.count)]
            let nameIDs = chunk.map { nameID($0.name) }
            func bind(_ binder: inout SQLiteBinder) {
                for (property, name) in zip(chunk, nameIDs) { bindRow(&binder, profile, name, property.value) }
            }
            var inserted: [Int64] = []
            if wasEmpty && start == 0 {
                try SQLiteBinder.run(db.cachedStatement(sql: Self.insertEach[chunk.count - 1]), in: db, bind)
                for name in nameIDs where !inserted.contains(name) { inserted.append(name) }
            } else {
                inserted = try SQLiteBinder.integers(db.cachedStatement(sql: Self.insertOnce[chunk.count - 1]), in: db, bind)
            }
            // A name sent twice in one op is stored by its first occurrence only.
            for name in nameIDs {
                if let found = inserted.firstIndex(of: name) {
                    inserted.remove(at: found)
                    stored.append(true)
                } else {
                    stored.append(false)
                }
            }
            start += chunk.count
        }
        return stored
    }

    mutating func upsert(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool {
        guard let profile = try profileID(distinctID) else { return false }
        _ = wrote(profile)
        let name = nameID(name)
        return try run(Self.upsertSet) { bindRow(&$0, profile, name, value) } > 0
    }

    mutating func add(_ distinctID: String, _ name: String, _ number: PropertyValue) throws {
        guard let profile = try profileID(distinctID) else { return }
        _ = wrote(profile)
        let name = nameID(name)
        try run(Self.upsertAdd) { bindRow(&$0, profile, name, number) }
    }

    mutating func list(_ distinctID: String, _ name: String) throws -> [PropertyValue]? {
        guard let profile = try profileID(distinctID) else { return nil }
        let name = nameID(name)
        var elements: [PropertyValue]?
        try SQLiteBinder.forEachRow(db.cachedStatement(sql: Self.selectValue), in: db, { $0.integer(profile); $0.integer(name) }) {
            if case .list(let stored) = try StoredValue.value(of: .list, in: $0, at: 0) { elements = stored }
        }
        return elements
    }

    mutating func delete(_ distinctID: String, _ name: String) throws -> Bool {
        guard let registered = try registeredName(name, registering: nil), let profile = try profileID(distinctID) else { return false }
        return try run(Self.deleteProperty) { $0.integer(profile); $0.integer(registered.id) } > 0
    }

    /// Profile rows, value rows and every inline mention in a record go; with
    /// `secure_delete` on, their bytes are zeroed in the file (``SQLiteStore``).
    mutating func eraseProfile(_ distinctID: String) throws -> Bool {
        let mentions = try Data.fetchAll(db.cachedStatement(sql: Self.selectMentions), arguments: [namespace, distinctID])
        for request in mentions {
            guard let text = try String.fetchOne(db.cachedStatement(sql: Self.selectResults), arguments: [request]) else { continue }
            let erased = String(decoding: try StoredRecord.erasing(distinctID, from: text), as: UTF8.self)
            try db.cachedStatement(sql: Self.updateResults).execute(arguments: [erased, request])
        }
        try run(Self.deleteMentions) { $0.integer(namespace); $0.text(distinctID) }
        guard let profile = try profileID(distinctID) else { return false }
        try run(Self.deleteValues) { $0.integer(profile) }
        try run(Self.deleteProfile) { $0.integer(profile) }
        profiles[distinctID] = nil
        return true
    }

    /// Deleting the name row hides every value under its id at once (reads
    /// join on it); the rows are deleted later, a step at a time
    /// (``SQLiteStore/reclaimDroppedValues(limit:)``). The drop count tells
    /// other processes to forget their cached ids.
    mutating func dropProperty(_ name: String) throws -> Bool {
        guard let registered = try registeredName(name, registering: nil),
              try run(Self.deleteName, { $0.integer(registered.id) }) > 0 else { return false }
        try run(Self.insertDroppedName) { $0.integer(registered.id) }
        try run(Self.countDrop) { _ in }
        names[name] = nil
        learned[name] = nil
        ids.forget(.init(namespace: namespace, name: name))
        dropped.append(name)
        return true
    }

    mutating func save(_ record: RequestRecord) throws {
        if let lifecycle = record.lifecycle {
            let entry = StoredRecord.encode(lifecycle)
            try run(Self.insertRequest) { $0.blob(record.id); $0.integer(namespace); $0.integer(now); $0.text(utf8: entry) }
            return
        }
        let profiles = self.profiles
        var inline: [String] = []
        let results = StoredRecord.encode(record.results) { distinctID in
            if let id = profiles[distinctID] { return .integer(id) }
            if !inline.contains(distinctID) { inline.append(distinctID) }
            return .string(distinctID)
        }
        try run(Self.insertRequest) { $0.blob(record.id); $0.integer(namespace); $0.integer(now); $0.text(utf8: results) }
        for distinctID in inline {
            try run(Self.insertMention) { $0.integer(namespace); $0.text(distinctID); $0.blob(record.id) }
        }
    }

    /// Notes a write to `profile`; whether it had no value before (see ``empty``).
    private mutating func wrote(_ profile: Int64) -> Bool {
        guard let index = empty.firstIndex(of: profile) else { return false }
        empty.remove(at: index)
        return true
    }

    /// One `properties` row: profile, name, value, text, updated_at, request.
    private func bindRow(_ binder: inout SQLiteBinder, _ profile: Int64, _ name: Int64, _ value: PropertyValue) {
        binder.integer(profile); binder.integer(name); binder.value(value); binder.integer(now); binder.blob(request)
    }

    /// Runs a cached statement and returns how many rows it changed.
    @discardableResult
    private func run(_ sql: String, _ bind: (inout SQLiteBinder) -> Void) throws -> Int {
        try SQLiteBinder.run(db.cachedStatement(sql: sql), in: db, bind)
    }

    static let insertProfile = """
        INSERT INTO profiles (namespace, distinct_id, created_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING
        """
    static let selectProfile = "SELECT id FROM profiles WHERE namespace = ? AND distinct_id = ?"
    static let touchProfile = "UPDATE profiles SET updated_at = ? WHERE id = ?"
    static let insertRequest = "INSERT INTO requests (id, namespace, received_at, results) VALUES (?, ?, ?, ?)"
    static let registerName = """
        INSERT INTO property_names (namespace, name, type, registered_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING
        """
    static let selectName = "SELECT id, type FROM property_names WHERE namespace = ? AND name = ?"
    static let selectValue = "SELECT value, text FROM properties WHERE profile = ? AND name = ?"
    static let deleteProperty = "DELETE FROM properties WHERE profile = ? AND name = ?"
    static let selectMentions = "SELECT request FROM record_mentions WHERE namespace = ? AND distinct_id = ?"
    static let insertMention = "INSERT OR IGNORE INTO record_mentions (namespace, distinct_id, request) VALUES (?, ?, ?)"
    static let deleteMentions = "DELETE FROM record_mentions WHERE namespace = ? AND distinct_id = ?"
    static let selectResults = "SELECT results FROM requests WHERE id = ?"
    static let updateResults = "UPDATE requests SET results = ? WHERE id = ?"
    static let deleteValues = "DELETE FROM properties WHERE profile = ?"
    static let deleteProfile = "DELETE FROM profiles WHERE id = ?"
    static let deleteName = "DELETE FROM property_names WHERE id = ?"
    static let insertDroppedName = "INSERT INTO dropped_names (id) VALUES (?)"
    static let countDrop = "UPDATE store_state SET value = value + 1 WHERE key = 'name_drops'"

    private static let insertProperty = "INSERT INTO properties (profile, name, value, text, updated_at, request) VALUES "
    private static let row = "(?, ?, ?, ?, ?, ?)"
    /// Most rows in one set-once insert (SQLite binds at most 32,766 parameters; the statements are cached per size).
    static let maxRowsPerInsert = 32
    /// `insertEach[n - 1]` inserts n rows (a name sent twice is stored once); `insertOnce` returns the names it stored.
    static let insertEach = (1...maxRowsPerInsert).map { count in
        insertProperty + Array(repeating: row, count: count).joined(separator: ", ") + " ON CONFLICT DO NOTHING"
    }
    static let insertOnce = insertEach.map { $0 + " RETURNING name" }
    /// Changes nothing (and counts no change) when the same value, in the same written form, is already there.
    static let upsertSet = insertProperty + row + """
         ON CONFLICT (profile, name) DO UPDATE SET
            value = excluded.value, text = excluded.text, updated_at = excluded.updated_at, request = excluded.request
        WHERE properties.value IS NOT excluded.value OR typeof(properties.value) IS NOT typeof(excluded.value)
            OR properties.text IS NOT excluded.text
        """
    /// An unset number starts from 0: the insert stores the addend itself.
    static let upsertAdd = insertProperty + row + """
         ON CONFLICT (profile, name) DO UPDATE SET
            value = properties.value + excluded.value, updated_at = excluded.updated_at, request = excluded.request
        """
}
