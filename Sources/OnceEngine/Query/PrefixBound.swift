/// Where the strings starting with a prefix end, so `starts_with` is a range
/// scan of a text index in byte order: every such string lies in
/// `[prefix, firstAfter(prefix))`, and no other string does.
package enum PrefixBound {
    /// `prefix` with its last character replaced by the next one (UTF-8
    /// orders as code points do, and surrogates are no characters); nil when
    /// no string is above them all.
    package static func firstAfter(_ prefix: String) -> String? {
        var scalars = Array(prefix.unicodeScalars)
        while let last = scalars.popLast() {
            var next = last.value + 1
            if next == 0xD800 { next = 0xE000 }
            if let scalar = Unicode.Scalar(next) {
                var result = ""
                result.unicodeScalars.append(contentsOf: scalars + [scalar])
                return result
            }
        }
        return nil
    }
}
