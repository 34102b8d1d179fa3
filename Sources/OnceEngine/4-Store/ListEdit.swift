/// The list semantics of `append` and `remove` (SPEC §2), shared by every store.
enum ListEdit {
    /// The list with each new element appended unless it already holds it;
    /// nil when nothing would change.
    static func appending(_ elements: [PropertyValue], to list: [PropertyValue]) -> [PropertyValue]? {
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
