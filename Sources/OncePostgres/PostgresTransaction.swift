import Foundation
import OnceEngine
import PostgresNIO

/// ``StoreTransaction`` on an open PostgreSQL transaction (READ COMMITTED).
///
/// Other processes write the same rows at the same time, so every step that
/// depends on stored state is one conditional statement: set-once is
/// `INSERT … ON CONFLICT DO NOTHING` and its outcome the row count; `add`,
/// `append` and `remove` compute the new value inside their own statement
/// from the row as it is when the statement takes its lock.
struct PostgresTransaction: StoreTransaction {
    let session: PostgresSession
    let namespace: Namespace
    let now: Int64
    /// The request's id, written beside each value it changes (provenance, SPEC §9).
    let request: String
    var types: TypeLookup
    /// What the batch did before its requests ran.
    let start: BatchStart

    init(session: PostgresSession, cache: TypeCache, start: BatchStart, request: PreparedRequest) {
        self.session = session
        self.start = start
        self.types = TypeLookup(cache: cache, namespace: request.namespace, known: start.types)
        self.namespace = request.namespace
        self.now = request.receivedAt.epochMilliseconds
        self.request = request.id.lowercaseString
    }

    /// Registration and the read-back are two statements: under READ COMMITTED
    /// the second sees a winner that committed while the first waited on it.
    mutating func registeredType(_ name: String, registering candidate: PropertyType?) throws -> PropertyType? {
        let transaction = self
        return try types.registration(of: name, registering: candidate, register: { candidate in
            try transaction.run(Self.registerType, name, candidate.rawValue, transaction.now)
        }, readBack: {
            try transaction.run(Self.selectType, name).rows.first?.decode((String, Int64).self)
        })?.type
    }

    /// The name `name`'s values are stored under: every op looks its type up before it writes a value.
    private func stored(_ name: String) -> String {
        guard let registration = types.resolved[name] else { preconditionFailure("\(name) written before its type was looked up") }
        return registration.storedName(of: name)
    }

    func createProfile(_ distinctID: String) throws -> Bool {
        start.profiles.claim(distinctID, in: namespace)
    }

    func touchProfile(_ distinctID: String) throws {
        try run(Self.touchProfile, distinctID, now)
    }

    func insertIfAbsent(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool {
        try insertEachIfAbsent(distinctID, [(name, value)])[0]
    }

    /// One multi-row `INSERT … ON CONFLICT DO NOTHING`, unless the batch already
    /// inserted them all (``BatchSetOnce``). A name sent twice is stored (at most) by its first occurrence.
    func insertEachIfAbsent(_ distinctID: String, _ values: [(name: String, value: PropertyValue)]) throws -> [Bool] {
        let keys = values.map { PropertyKey(namespace, distinctID, stored($0.name)) }
        if let setOnce = start.setOnce { return keys.map(setOnce.claim) }
        var inserted = try Self.insertOnce(zip(keys, values).map { ($0, $1.value, now, request) }, in: session)
        return keys.map { inserted.remove($0) != nil }
    }

    /// Inserts each row unless its property is set; returns the keys of those it inserted.
    static func insertOnce(_ rows: [(key: PropertyKey, value: PropertyValue, now: Int64, request: String)],
                           in session: PostgresSession) throws -> Set<PropertyKey> {
        let inserted = try session.insert(rows, head: insertColumns, tail: " ON CONFLICT DO NOTHING RETURNING \(PropertyKey.columns)") { row, first, binds in
            binds.append(row.key.workspace)
            binds.append(row.key.version)
            binds.append(row.key.distinctID)
            binds.append(row.key.name)
            PostgresValue.bind(row.value, into: &binds)
            binds.append(row.now)
            binds.append(row.request)
            return "($\(first), $\(first + 1), $\(first + 2), $\(first + 3), \(PostgresValue.placeholders(from: first + 4)), $\(first + 11), $\(first + 12))"
        }
        return Set(try inserted.map(PropertyKey.init(row:)))
    }

    func upsert(_ distinctID: String, _ name: String, _ value: PropertyValue) throws -> Bool {
        try write(Self.upsertSet, distinctID, stored(name), value).metadata.rows == 1
    }

    func add(_ distinctID: String, _ name: String, _ number: PropertyValue) throws {
        try write(Self.upsertAdd, distinctID, stored(name), number)
    }

    func editList(_ op: Op, _ distinctID: String, _ name: String, _ elements: [PropertyValue]) throws -> ListEditResult {
        let name = stored(name)
        if op == .remove {
            let removed = try run(Self.removeElements, distinctID, name, PostgresValue.keysJSON(elements), now, request)
            return removed.metadata.rows == 1 ? .edited : .unchanged
        }
        let new = ListEdit.appending(elements, to: []) ?? []
        var binds = bindings(distinctID, name)
        PostgresValue.bind(.list(new), into: &binds)
        binds.append(now)
        binds.append(request)
        binds.append(Validator.maxListCount)
        guard let row = try session.run(Self.appendElements, binds: binds).rows.first else { return .unchanged }
        return try row.decode(Bool.self) ? .edited : .tooLong
    }

    /// An unset looks no type up: the statement finds the stored name itself.
    func delete(_ distinctID: String, _ name: String) throws -> Bool {
        try run(Self.deleteProperty, distinctID, name).metadata.rows == 1
    }

    /// Locks the profile, deletes its values and itself, then rewrites each
    /// record of the namespace that names it. Records here keep SPEC §3's
    /// form, distinct_ids inline, so finding them reads the namespace's
    /// records (as many as retention keeps); on SQLite they point at profile ids instead.
    func eraseProfile(_ distinctID: String) throws -> Bool {
        let existed = try !run(Self.lockProfile, distinctID).rows.isEmpty
        if existed {
            try run(Self.deleteValues, distinctID)
            try run(Self.deleteProfile, distinctID)
        }
        let mention = #""distinct_id":"# + JSON.string(distinctID).text
        for row in try run(Self.selectMentioning, mention).rows {
            let (id, received, text) = try row.decode((String, Int64, String).self)
            guard let uuid = UUID(uuidString: id) else { continue }
            var record = try RequestRecord(id: uuid, receivedAtMilliseconds: received, storedResults: text)
            for index in record.results.indices where record.results[index].distinctID == distinctID {
                record.results[index].distinctID = nil
            }
            try run(Self.updateResults, id, record.resultsJSON.text)
        }
        return existed
    }

    /// Unregisters the type and starts the name's next generation
    /// (``Registration``); the old generation's stored name joins
    /// `stale_properties`, which hides its rows at once and which
    /// ``PostgresStore/reclaimDroppedValues(limit:)`` works through later.
    /// The drop count tells every process to forget its cached types.
    func dropProperty(_ name: String) throws -> Bool {
        guard try run(Self.deleteType, name).metadata.rows == 1 else { return false }
        let generation = try run(Self.countNameDrop, name).rows.first!.decode(Int64.self) - 1
        try run(Self.insertStale, Registration.storedName(of: name, generation: generation))
        try session.run(Self.countDrop)
        return true
    }

    /// Nothing to do per request: ``BatchCommit`` writes the records of the
    /// whole batch in one statement (``saveRecords(_:in:)``) before COMMIT.
    func save(_ record: RequestRecord) throws {}

    /// Writes the records of a batch's requests, a thousand per statement.
    static func saveRecords(_ records: [(namespace: Namespace, record: RequestRecord)], in session: PostgresSession) throws {
        try session.insert(records, head: insertRequests) { row, first, binds in
            binds.append(row.namespace.workspace)
            binds.append(row.namespace.version.rawValue)
            binds.append(row.record.id.lowercaseString)
            binds.append(row.record.receivedAt.epochMilliseconds)
            binds.append(row.record.resultsJSON.text)
            return "(" + (first..<first + 5).map { "$\($0)" }.joined(separator: ", ") + ")"
        }
    }

    /// Runs a statement whose first two parameters are the namespace.
    @discardableResult
    private func run(_ sql: String, _ values: (any PostgresDynamicTypeEncodable)?...) throws -> PostgresQueryResult {
        var binds = bindings()
        for value in values {
            if let value { binds.append(value) } else { binds.appendNull() }
        }
        return try session.run(sql, binds: binds)
    }

    /// Runs a statement over `(namespace, distinct_id, name, value columns…, now, request)`.
    @discardableResult
    private func write(_ sql: String, _ distinctID: String, _ name: String, _ value: PropertyValue) throws -> PostgresQueryResult {
        var binds = bindings(distinctID, name)
        PostgresValue.bind(value, into: &binds)
        binds.append(now)
        binds.append(request)
        return try session.run(sql, binds: binds)
    }

    private func bindings(_ values: String...) -> PostgresBindings {
        var binds = PostgresBindings(capacity: 16)
        binds.append(namespace.workspace)
        binds.append(namespace.version.rawValue)
        for value in values { binds.append(value) }
        return binds
    }

    static let key = "workspace = $1 AND version = $2 AND distinct_id = $3"

    static let touchProfile = "UPDATE profiles SET updated_at = $4 WHERE \(key)"
    static let insertRequests = "INSERT INTO requests (workspace, version, id, received_at, results) VALUES "
    static let registerType = """
        INSERT INTO property_types (workspace, version, name, type, registered_at)
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
        """
    /// A registration's generation: how often its name was dropped before (``Registration``).
    static let generation = "coalesce(d.drops, 0)"
    static let joinDrops = "LEFT JOIN property_drops d ON d.workspace = t.workspace AND d.version = t.version AND d.name = t.name"
    static let selectType = """
        SELECT t.type, \(generation) FROM property_types t \(joinDrops)
        WHERE t.workspace = $1 AND t.version = $2 AND t.name = $3
        """
    static let insertColumns = """
        INSERT INTO properties AS p (workspace, version, distinct_id, name,
            type, text, number, fractional, instant, list, list_keys, updated_at, request) VALUES
        """
    private static let insertProperty = insertColumns + " ($1, $2, $3, $4, \(PostgresValue.placeholders(from: 5)), $12, $13)"
    /// Changes nothing (and counts no row) when the same value, in the same written form, is already there.
    static let upsertSet = insertProperty + """
         ON CONFLICT (workspace, version, distinct_id, name) DO UPDATE SET
            type = excluded.type, text = excluded.text, number = excluded.number, fractional = excluded.fractional,
            instant = excluded.instant, list = excluded.list, list_keys = excluded.list_keys, updated_at = excluded.updated_at,
            request = excluded.request
        WHERE (p.type, p.text, p.number, p.fractional, p.list_keys)
            IS DISTINCT FROM (excluded.type, excluded.text, excluded.number, excluded.fractional, excluded.list_keys)
            OR p.list::text IS DISTINCT FROM excluded.list::text
        """
    /// An unset number starts from 0: the insert stores the addend itself.
    static let upsertAdd = insertProperty + """
         ON CONFLICT (workspace, version, distinct_id, name) DO UPDATE SET
            number = p.number + excluded.number, fractional = p.fractional OR excluded.fractional,
            updated_at = excluded.updated_at, request = excluded.request
        """
    /// The elements of `excluded.list` whose keys the stored list lacks, in order.
    private static let newElements = """
        (SELECT coalesce(jsonb_agg(e.value ORDER BY e.position), '[]'::jsonb)
         FROM jsonb_array_elements(excluded.list) WITH ORDINALITY AS e(value, position)
         WHERE NOT p.list_keys @> jsonb_build_array(excluded.list_keys -> (e.position::int - 1)))
        """
    private static let newKeys = """
        (SELECT coalesce(jsonb_agg(k.value ORDER BY k.position), '[]'::jsonb)
         FROM jsonb_array_elements(excluded.list_keys) WITH ORDINALITY AS k(value, position)
         WHERE NOT p.list_keys @> jsonb_build_array(k.value))
        """
    private static let fits = "jsonb_array_length(p.list_keys) + jsonb_array_length(\(newKeys)) <= $14"
    /// Updates only when some element is new. A list that would outgrow the cap
    /// is rewritten unchanged, so the returned row tells: it holds every sent
    /// key when the append happened, not when it was refused.
    static let appendElements = insertProperty + """
         ON CONFLICT (workspace, version, distinct_id, name) DO UPDATE SET
            list = CASE WHEN \(fits) THEN p.list || \(newElements) ELSE p.list END,
            list_keys = CASE WHEN \(fits) THEN p.list_keys || \(newKeys) ELSE p.list_keys END,
            updated_at = CASE WHEN \(fits) THEN excluded.updated_at ELSE p.updated_at END,
            request = CASE WHEN \(fits) THEN excluded.request ELSE p.request END
        WHERE NOT p.list_keys @> excluded.list_keys
        RETURNING list_keys @> $11::jsonb
        """
    static let removeElements = """
        UPDATE properties AS p SET
            list = (SELECT coalesce(jsonb_agg(e.value ORDER BY e.position), '[]'::jsonb)
                    FROM jsonb_array_elements(p.list) WITH ORDINALITY AS e(value, position)
                    WHERE NOT $5::jsonb @> jsonb_build_array(p.list_keys -> (e.position::int - 1))),
            list_keys = (SELECT coalesce(jsonb_agg(k.value ORDER BY k.position), '[]'::jsonb)
                         FROM jsonb_array_elements(p.list_keys) WITH ORDINALITY AS k(value, position)
                         WHERE NOT $5::jsonb @> jsonb_build_array(k.value)),
            updated_at = $6, request = $7
        WHERE \(key) AND name = $4 AND type = 'list'
            AND EXISTS (SELECT 1 FROM jsonb_array_elements(p.list_keys) AS k(value)
                        WHERE $5::jsonb @> jsonb_build_array(k.value))
        """
    /// The stored name as ``Registration/storedName(of:generation:)`` makes it, from the name's drop count.
    static let deleteProperty = """
        DELETE FROM properties WHERE \(key) AND name = coalesce((
            SELECT '$' || drops || '$' FROM property_drops WHERE workspace = $1 AND version = $2 AND name = $4), '') || $4
        """
    static let lockProfile = "SELECT 1 FROM profiles WHERE \(key) FOR UPDATE"
    static let deleteValues = "DELETE FROM properties WHERE \(key)"
    static let deleteProfile = "DELETE FROM profiles WHERE \(key)"
    static let selectMentioning = """
        SELECT id, received_at, results FROM requests WHERE workspace = $1 AND version = $2 AND strpos(results, $3) > 0
        """
    static let updateResults = "UPDATE requests SET results = $4 WHERE workspace = $1 AND version = $2 AND id = $3"
    static let deleteType = "DELETE FROM property_types WHERE workspace = $1 AND version = $2 AND name = $3"
    static let countNameDrop = """
        INSERT INTO property_drops (workspace, version, name, drops) VALUES ($1, $2, $3, 1)
        ON CONFLICT (workspace, version, name) DO UPDATE SET drops = property_drops.drops + 1 RETURNING drops
        """
    static let insertStale = "INSERT INTO stale_properties (workspace, version, stored_name) VALUES ($1, $2, $3)"
    static let countDrop = "UPDATE onced_state SET value = value + 1 WHERE key = 'type_drops'"
    /// Read at the start of every batch; the share lock makes a drop wait until batches that read the old count commit.
    static let selectDrops = "SELECT value FROM onced_state WHERE key = 'type_drops' FOR SHARE"
}
