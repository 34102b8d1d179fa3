import Foundation
import GRDB
import GRDBSQLite

/// ``StoreTransaction`` on an open SQLite write transaction, over storage
/// v3's inline values (``StorageV3``).
///
/// SQLite transactions are `BEGIN IMMEDIATE`: the database is write-locked,
/// across processes, until commit, so nothing can change a profile between
/// this request's read of it and its write. Each profile the request
/// touches is read once (its row and `props` blob), changed in memory —
/// set-once is "no entry for the name yet" — and written back by
/// ``save(_:)``, with the `property_values` rows of the values that changed.
/// A name registers with `INSERT … ON CONFLICT DO NOTHING` and the winner is read back.
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
    /// The profiles this request has read or created, by distinct_id.
    private var profiles: [String: OpenProfile] = [:]
    /// Their distinct_ids in the order they were opened: new profiles get their ids in it.
    private var opened: [String] = []
    /// Distinct_ids looked up and not found (an `unset` does not create a profile).
    private var missing: Set<String> = []

    /// A profile as this request has it.
    private struct OpenProfile {
        /// Nil until ``save(_:)`` writes the row of a profile this request created.
        var id: Int64?
        /// The values as the file holds them.
        var stored: PackedValues
        var values: PackedValues
        var updatedAt: Int64
        var touched = false
    }

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

    /// A new profile's row is written by ``save(_:)``, with its values.
    mutating func createProfile(_ distinctID: String) throws -> Bool {
        guard try !exists(distinctID) else { return false }
        profiles[distinctID] = OpenProfile(id: nil, stored: PackedValues(), values: PackedValues(), updatedAt: now)
        opened.append(distinctID)
        missing.remove(distinctID)
        return true
    }

    /// Whether the profile exists, reading it on first use.
    private mutating func exists(_ distinctID: String) throws -> Bool {
        if profiles[distinctID] != nil { return true }
        if missing.contains(distinctID) { return false }
        var found: OpenProfile?
        try SQLiteBinder.forEachRow(db.cachedStatement(sql: Self.selectProfile), in: db, limit: 1, { binder in
            binder.integer(namespace); binder.text(distinctID)
        }) { row in
            let values = try PackedValues(blob: StoredValue.blob(row, 2))
            found = OpenProfile(id: sqlite3_column_int64(row, 0), stored: values, values: values, updatedAt: sqlite3_column_int64(row, 1))
        }
        guard let found else {
            missing.insert(distinctID)
            return false
        }
        profiles[distinctID] = found
        opened.append(distinctID)
        return true
    }

    mutating func touchProfile(_ distinctID: String) throws {
        if try exists(distinctID) { profiles[distinctID]!.touched = true }
    }

    mutating func insertIfAbsent(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool {
        try insertEachIfAbsent(distinctID, [(name, value)])[0]
    }

    /// A name sent twice in one op is stored by its first occurrence only.
    mutating func insertEachIfAbsent(_ distinctID: String, _ values: [(name: String, value: PropertyValue)]) throws -> [Bool] {
        guard try exists(distinctID) else { return values.map { _ in false } }
        return values.map { property in
            let name = nameID(property.name)
            guard profiles[distinctID]!.values.entry(name) == nil else { return false }
            profiles[distinctID]!.values.append(name, property.value, updatedAt: now, request: request)
            return true
        }
    }

    /// Changes nothing, provenance included, when the same value in the same written form is there.
    mutating func upsert(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool {
        guard try exists(distinctID) else { return false }
        let name = nameID(name)
        var replacement = PackedValues()
        replacement.append(name, value, updatedAt: now, request: request)
        guard profiles[distinctID]!.values.storedForm(name) != replacement.storedForm(name) else { return false }
        profiles[distinctID]!.values.set(name, value, at: now, by: request)
        return true
    }

    mutating func add(_ distinctID: String, _ name: String, _ number: PropertyValue) throws {
        guard try exists(distinctID) else { return }
        let name = nameID(name)
        let values = profiles[distinctID]!.values
        let current = try values.entry(name).map { try values.value($0, as: .number) }
        profiles[distinctID]!.values.set(name, PropertyValue.sum(current, number), at: now, by: request)
    }

    mutating func list(_ distinctID: String, _ name: String) throws -> [PropertyValue]? {
        guard try exists(distinctID) else { return nil }
        let values = profiles[distinctID]!.values
        guard let entry = values.entry(nameID(name)), case .list(let elements) = try values.value(entry, as: .list) else { return nil }
        return elements
    }

    mutating func delete(_ distinctID: String, _ name: String) throws -> Bool {
        guard let registered = try registeredName(name, registering: nil), try exists(distinctID) else { return false }
        return profiles[distinctID]!.values.remove(registered.id)
    }

    /// The profile row, its `property_values` rows (one per entry, those of
    /// dropped names not yet reclaimed included) and every inline mention in
    /// a record go; with `secure_delete` on, their bytes are zeroed in the file (``SQLiteStore``).
    mutating func eraseProfile(_ distinctID: String) throws -> Bool {
        let mentions = try Data.fetchAll(db.cachedStatement(sql: Self.selectMentions), arguments: [namespace, distinctID])
        for request in mentions {
            guard let text = try String.fetchOne(db.cachedStatement(sql: Self.selectResults), arguments: [request]) else { continue }
            let erased = String(decoding: try StoredRecord.erasing(distinctID, from: text), as: UTF8.self)
            try db.cachedStatement(sql: Self.updateResults).execute(arguments: [erased, request])
        }
        try run(Self.deleteMentions) { $0.integer(namespace); $0.text(distinctID) }
        guard try exists(distinctID), let profile = profiles.removeValue(forKey: distinctID) else { return false }
        opened.removeAll { $0 == distinctID }
        missing.insert(distinctID)
        guard let id = profile.id else { return true }
        try profile.stored.forEach { entry in try deleteIndexRow(entry, of: profile.stored, profile: id) }
        try run(Self.deleteProfile) { $0.integer(id) }
        return true
    }

    /// Deleting the name row hides every value under its id at once (reads
    /// join on it); the values are deleted later, a step at a time
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

    /// Writes back every profile the request changed, then its record.
    mutating func save(_ record: RequestRecord) throws {
        for distinctID in opened { try write(distinctID) }
        if let lifecycle = record.lifecycle {
            let entry = StoredRecord.encode(lifecycle)
            try run(Self.insertRequest) { $0.blob(record.id); $0.integer(namespace); $0.integer(now); $0.text(utf8: entry) }
            return
        }
        let profiles = self.profiles
        var inline: [String] = []
        let results = StoredRecord.encode(record.results) { distinctID in
            if let id = profiles[distinctID]?.id { return .integer(id) }
            if !inline.contains(distinctID) { inline.append(distinctID) }
            return .string(distinctID)
        }
        try run(Self.insertRequest) { $0.blob(record.id); $0.integer(namespace); $0.integer(now); $0.text(utf8: results) }
        for distinctID in inline {
            try run(Self.insertMention) { $0.integer(namespace); $0.text(distinctID); $0.blob(record.id) }
        }
    }

    /// The profile's row, and an index row for each value that changed: a
    /// new profile's row and values in one insert each.
    private mutating func write(_ distinctID: String) throws {
        guard var profile = profiles[distinctID] else { return }
        let values = profile.values
        if let id = profile.id {
            guard profile.touched || values != profile.stored else { return }
            let updatedAt = profile.touched ? now : profile.updatedAt
            try values.bytes.withUnsafeBytes { blob in
                try run(Self.updateProfile) { $0.bytes(blob, asText: false); $0.integer(updatedAt); $0.integer(id) }
            }
        } else {
            try values.bytes.withUnsafeBytes { blob in
                try run(Self.insertProfile) { binder in
                    binder.integer(namespace); binder.text(distinctID); binder.integer(now); binder.integer(now)
                    binder.bytes(blob, asText: false)
                }
            }
            profile.id = db.lastInsertedRowID
        }
        let id = profile.id!
        var added: [PackedValues.Entry] = []
        if profile.stored.isEmpty {
            values.forEach { added.append($0) }
        } else {
            try profile.stored.forEach { entry in
                if values.storedForm(entry.name) != profile.stored.storedForm(entry.name) {
                    try deleteIndexRow(entry, of: profile.stored, profile: id)
                }
            }
            values.forEach { entry in
                if values.storedForm(entry.name) != profile.stored.storedForm(entry.name) { added.append(entry) }
            }
        }
        var start = 0
        while start < added.count {
            let chunk = added[start..<min(start + Self.maxRowsPerInsert, added.count)]
            try run(Self.insertIndexRows[chunk.count - 1]) { binder in
                for entry in chunk {
                    binder.integer(entry.name)
                    values.bind(entry, to: &binder)
                    binder.integer(id)
                }
            }
            start += chunk.count
        }
        if profile.touched { profile.updatedAt = now }
        profile.stored = values
        profile.touched = false
        profiles[distinctID] = profile
    }

    private func deleteIndexRow(_ entry: PackedValues.Entry, of values: PackedValues, profile: Int64) throws {
        try run(Self.deleteIndexRow) { binder in
            binder.integer(entry.name)
            values.bind(entry, to: &binder)
            binder.integer(profile)
        }
    }

    /// Runs a cached statement and returns how many rows it changed.
    @discardableResult
    private func run(_ sql: String, _ bind: (inout SQLiteBinder) -> Void) throws -> Int {
        try SQLiteBinder.run(db.cachedStatement(sql: sql), in: db, bind)
    }

    static let insertProfile = "INSERT INTO profiles (namespace, distinct_id, created_at, updated_at, props) VALUES (?, ?, ?, ?, ?)"
    static let selectProfile = "SELECT id, updated_at, props FROM profiles WHERE namespace = ? AND distinct_id = ?"
    static let updateProfile = "UPDATE profiles SET props = ?, updated_at = ? WHERE id = ?"
    static let insertRequest = "INSERT INTO requests (id, namespace, received_at, results) VALUES (?, ?, ?, ?)"
    static let registerName = """
        INSERT INTO property_names (namespace, name, type, registered_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING
        """
    static let selectName = "SELECT id, type FROM property_names WHERE namespace = ? AND name = ?"
    static let selectMentions = "SELECT request FROM record_mentions WHERE namespace = ? AND distinct_id = ?"
    static let insertMention = "INSERT OR IGNORE INTO record_mentions (namespace, distinct_id, request) VALUES (?, ?, ?)"
    static let deleteMentions = "DELETE FROM record_mentions WHERE namespace = ? AND distinct_id = ?"
    static let selectResults = "SELECT results FROM requests WHERE id = ?"
    static let updateResults = "UPDATE requests SET results = ? WHERE id = ?"
    static let deleteProfile = "DELETE FROM profiles WHERE id = ?"
    static let deleteName = "DELETE FROM property_names WHERE id = ?"
    static let insertDroppedName = "INSERT INTO dropped_names (id) VALUES (?)"
    static let countDrop = "UPDATE store_state SET value = value + 1 WHERE key = 'name_drops'"
    static let deleteIndexRow = "DELETE FROM property_values WHERE name = ? AND value = ? AND profile = ?"

    /// Most index rows in one insert (SQLite binds at most 32,766 parameters; the statements are cached per size).
    static let maxRowsPerInsert = 32
    /// `insertIndexRows[n - 1]` inserts n rows.
    static let insertIndexRows = (1...maxRowsPerInsert).map { count in
        "INSERT INTO property_values (name, value, profile) VALUES " + Array(repeating: "(?, ?, ?)", count: count).joined(separator: ", ")
    }
}
