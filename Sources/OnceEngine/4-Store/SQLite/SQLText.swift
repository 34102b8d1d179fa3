/// SQL text kept as the string literals it is joined from.
///
/// Every statement a cohort query runs is a sequence of literals, its
/// operands bound (``SQLiteFilter``), so the sequence names the text: the
/// literals' addresses key its prepared statement (``QueryStatements``), and
/// the text itself is joined only when a statement is first prepared.
/// Building and hashing the text was ~1 µs of a one-profile page's ~31
/// (interleaved builds), and it grows with the filter: 64 conditions spell
/// kilobytes.
///
/// Two sequences of the same text from different literals are two keys, each
/// with its own statement: harmless, since each literal always spells the same.
struct SQLText: Hashable, ExpressibleByStringLiteral {
    private var pieces: [StaticString] = []

    init() {
        pieces.reserveCapacity(16)
    }

    init(stringLiteral piece: StaticString) {
        self.init()
        pieces.append(piece)
    }

    mutating func append(_ piece: StaticString) {
        pieces.append(piece)
    }

    mutating func append(contentsOf other: SQLText) {
        pieces += other.pieces
    }

    /// The text, joined from its pieces.
    var text: String {
        pieces.map(\.description).joined()
    }

    static func == (left: SQLText, right: SQLText) -> Bool {
        left.pieces.count == right.pieces.count
            && zip(left.pieces, right.pieces).allSatisfy { identity($0) == identity($1) }
    }

    func hash(into hasher: inout Hasher) {
        for piece in pieces {
            let (start, count) = Self.identity(piece)
            hasher.combine(start)
            hasher.combine(count)
        }
    }

    /// Where a literal's bytes are and how many, or (for a literal of one
    /// scalar, which has no bytes of its own) the scalar, marked as one.
    private static func identity(_ piece: StaticString) -> (UInt, Int) {
        piece.hasPointerRepresentation
            ? (UInt(bitPattern: piece.utf8Start), piece.utf8CodeUnitCount)
            : (UInt(piece.unicodeScalar.value), -1)
    }
}
