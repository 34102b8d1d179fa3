import Foundation

/// A profile as every reader sees it: GET profile, a query's page and
/// `onced export` lines share this one shape (SPEC §3, §8).
///
/// Written straight to UTF-8 bytes, not built as a ``JSON`` tree first: an
/// export writes a million of them, and the tree cost more than the store's read.
public enum ProfileJSON {
    /// `{"distinct_id", "properties", "created_at", "updated_at"}`, in that
    /// order, then `extra`'s members.
    public static func write(_ profile: Profile, to output: inout [UInt8], extra: [JSONObject.Member] = []) {
        output.append(contentsOf: #"{"distinct_id":"#.utf8)
        JSON.writeString(profile.distinctID, to: &output)
        output.append(contentsOf: #","properties":{"#.utf8)
        for (index, property) in profile.properties.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            JSON.writeString(property.name, to: &output)
            output.append(UInt8(ascii: ":"))
            property.value.writeJSON(to: &output)
        }
        output.append(contentsOf: #"},"created_at":"#.utf8)
        JSON.writeString(timestamp(profile.createdAt), to: &output)
        output.append(contentsOf: #","updated_at":"#.utf8)
        JSON.writeString(timestamp(profile.updatedAt), to: &output)
        for member in extra {
            output.append(UInt8(ascii: ","))
            JSON.writeString(member.key, to: &output)
            output.append(UInt8(ascii: ":"))
            member.value.write(to: &output)
        }
        output.append(UInt8(ascii: "}"))
    }

    /// A time as the API writes it: UTC, milliseconds.
    public static func timestamp(_ date: Date) -> String {
        ISODate.utcText(milliseconds: date.epochMilliseconds)
    }
}
