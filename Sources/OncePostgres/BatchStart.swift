import OnceEngine

/// What a batch's transaction does before its requests run: it takes the rows
/// they will lock in one order for every process, so concurrent batches wait
/// on each other but never deadlock — and a batch of set-once values of known
/// types writes them all right there.
struct BatchStart {
    let profiles: BatchProfiles
    /// Set when the batch's set-once values are already inserted.
    let setOnce: BatchSetOnce?
    /// Types registered or read up front (none on the set-once path: all were cached).
    let types: [PropertyName: Registration]

    /// Every batch takes the type rows it registers (none on the set-once path:
    /// all were cached), then its profiles (created, then the others locked),
    /// each in sorted order; it writes property rows only under their profile's lock.
    init(_ batch: [PreparedRequest], cache: TypeCache, in session: PostgresSession) throws {
        let values = BatchSetOnce.firstValues(of: batch, cache: cache)
        types = values == nil ? try BatchTypes.register(for: batch, cache: cache, in: session) : [:]
        profiles = try BatchProfiles(creatingFor: batch, in: session)
        try profiles.lockTheOthers(in: session)
        setOnce = try values.map { try BatchSetOnce(inserting: $0, in: session) }
    }
}
