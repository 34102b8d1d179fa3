import Foundation

/// A profile as every reader sees it: GET profile, a query's page and
/// `onced export` lines share this one shape (SPEC §3, §8).
public enum ProfileJSON {
    /// `distinct_id`, `properties`, `created_at`, `updated_at`, in that order.
    public static func members(of profile: Profile) -> [JSONObject.Member] {
        [
            .init("distinct_id", .string(profile.distinctID)),
            .init("properties", .object(JSONObject(profile.properties.map { .init($0.name, $0.value.json) }))),
            .init("created_at", .string(timestamp(profile.createdAt))),
            .init("updated_at", .string(timestamp(profile.updatedAt))),
        ]
    }

    /// A time as the API writes it: UTC, milliseconds.
    public static func timestamp(_ date: Date) -> String {
        ISODate.utcText(milliseconds: date.epochMilliseconds)
    }
}
