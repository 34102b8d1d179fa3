/// The list semantics of `append` and `remove` (SPEC §2), shared by every store.
package enum ListEdit {
    /// The list with each new element appended unless it already holds it;
    /// nil when nothing would change.
    package static func appending(_ elements: [PropertyValue], to list: [PropertyValue]) -> [PropertyValue]? {
        var result = list
        for element in elements where !result.contains(where: { $0.isSameElement(as: element) }) {
            result.append(element)
        }
        return result.count == list.count ? nil : result
    }

    /// The list without any of the elements; nil when none was there.
    static func removing(_ elements: [PropertyValue], from list: [PropertyValue]) -> [PropertyValue]? {
        let result = list.filter { held in !elements.contains { $0.isSameElement(as: held) } }
        return result.count == list.count ? nil : result
    }
}

/// List edits for stores whose transaction holds the write lock (SQLite's
/// `BEGIN IMMEDIATE`, the memory store's mutex): there, reading the list and
/// writing it back cannot race another writer.
protocol LockedListEditing: StoreTransaction {
    /// The stored list, or nil when the property is unset.
    mutating func list(_ distinctID: String, _ name: String) throws -> [PropertyValue]?
}

extension LockedListEditing {
    mutating func editList(_ op: Op, _ distinctID: String, _ name: String, _ elements: [PropertyValue]) throws -> ListEditResult {
        let current = try list(distinctID, name)
        let edited = op == .append
            ? ListEdit.appending(elements, to: current ?? [])
            : current.flatMap { ListEdit.removing(elements, from: $0) }
        guard let edited else { return .unchanged }
        if edited.count > Validator.maxListCount { return .tooLong }
        _ = try upsert(distinctID, name, .list(edited))
        return .edited
    }
}
