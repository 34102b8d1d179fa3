import Foundation
import OnceEngine
import Testing

/// `onced serve --shadow-rules DIR` and `GET …/rules/shadow` (SPEC §10), over HTTP.
@Suite struct ShadowRulesTests {
    static let base = "/v1/\(Daemon.workspace)/live"
    static let otherBase = "/v1/\(Daemon.otherWorkspace)/live"
    static let live = #"return { name = "live", property = function(name, value) if name == "plan" then return value:lower() end end }"#
    static let shadow = #"return { name = "candidate", property = function(name, value) if name == "plan" then return value:upper() end end }"#

    func start(shadow: String = Self.shadow) async throws -> (Daemon, TemporaryDirectory) {
        let directory = TemporaryDirectory()
        for (folder, source) in [("live", Self.live), ("shadow", shadow)] {
            try FileManager.default.createDirectory(atPath: directory.path(folder), withIntermediateDirectories: true)
            try source.write(toFile: directory.path("\(folder)/10-plan.lua"), atomically: true, encoding: .utf8)
        }
        let daemon = try await Daemon.start(arguments: ["--rules", directory.path("live"), "--shadow-rules", directory.path("shadow")],
                                            directory: directory)
        return (daemon, directory)
    }

    /// The report once `compared` reaches `count` (comparisons run after the 202, in the background).
    func waitForReport(_ daemon: Daemon, _ base: String = Self.base, key: String = Daemon.key, compared count: Int) async throws -> JSONObject {
        for _ in 0..<300 {
            let reply = try await daemon.get("\(base)/rules/shadow", key: key)
            if let json = reply.json, json["compared"] == .integer(Int64(count)) { return json }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DecodeError("the shadow rules never compared \(count) requests")
    }

    @Test func differencesAreCountedAndKeptPerNamespace() async throws {
        let (daemon, _) = try await start()
        var ids: [String] = []
        for body in [#"{"distinct_id": "u1", "$once": {"plan": "Pro"}}"#, #"{"distinct_id": "u2", "$once": {"ltv": 3}}"#,
                     #"{"distinct_id": "u3", "$once": {"plan": "Free", "ltv": 1}}"#] {
            let reply = try await daemon.post("\(Self.base)/profiles/properties/set-once", body)
            #expect(reply.status == 202)
            ids.append(try #require(reply.json?["request_id"]?.stringValue))
        }
        let report = try await waitForReport(daemon, compared: 3)
        #expect(report["differing"] == .integer(2))
        #expect(report["generation"] == .integer(1))
        guard case .array(let examples)? = report["examples"] else { Issue.record("no examples: \(report)"); return }
        // Newest first; each names its request and the differing property with both values.
        #expect(examples.map { $0.objectValue?["request_id"] } == [.string(ids[2]), .string(ids[0])])
        let first = examples.last?.objectValue?["differences"]
        #expect(first.map { JSON.text(of: $0) } == #"[{"distinct_id":"u1","op":"set_once","property":"plan","old":{"outcome":"set","value":"pro"},"new":{"outcome":"set","value":"PRO"}}]"#)
        // The live outcome was written, not the shadow's.
        #expect(try await daemon.get("\(Self.base)/profiles/u1").json?["properties"]?.objectValue?["plan"] == .string("pro"))

        // Another workspace sees only its own comparisons.
        let other = try await daemon.post("\(Self.otherBase)/profiles/properties/set", #"{"distinct_id": "o1", "$set": {"plan": "Team"}}"#,
                                          key: Daemon.otherKey)
        #expect(other.status == 202)
        let otherReport = try await waitForReport(daemon, Self.otherBase, key: Daemon.otherKey, compared: 1)
        #expect(otherReport["differing"] == .integer(1))
        #expect(try await waitForReport(daemon, compared: 3)["differing"] == .integer(2))
    }

    @Test func theShadowSetReloadsLikeTheLiveOne() async throws {
        let (daemon, directory) = try await start()
        // A comparison before the reload: the report must still follow the generation in force.
        #expect(try await daemon.post("\(Self.base)/profiles/properties/set-once", #"{"distinct_id": "u0", "$once": {"plan": "Pro"}}"#).status == 202)
        #expect(try await waitForReport(daemon, compared: 1)["differing"] == .integer(1))
        try Self.live.write(toFile: directory.path("shadow/10-plan.lua"), atomically: true, encoding: .utf8)
        var generation: JSON?
        for _ in 0..<200 where generation != .integer(2) {
            try await Task.sleep(for: .milliseconds(50))
            generation = try await daemon.get("\(Self.base)/rules/shadow").json?["generation"]
        }
        #expect(generation == .integer(2))
        #expect(try await daemon.post("\(Self.base)/profiles/properties/set-once", #"{"distinct_id": "u1", "$once": {"plan": "Pro"}}"#).status == 202)
        let report = try await waitForReport(daemon, compared: 2)
        #expect(report["differing"] == .integer(1), "the reloaded shadow set is the live one: \(report)")
    }

    @Test func withoutShadowRulesTheReportIsNotFound() async throws {
        let daemon = try await Daemon.start()
        let reply = try await daemon.get("\(Self.base)/rules/shadow")
        #expect(reply.status == 404)
        #expect(reply.body.contains("--shadow-rules"))
        #expect(try await daemon.get("\(Self.base)/rules/shadow", key: "wrong").status == 401)

        let directory = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.path("shadow"), withIntermediateDirectories: true)
        // No --rules, and no ./rules where it runs: nothing live to compare with.
        let alone = try await OncedBinary.run(["serve", "--port", "0", "--db", directory.path("o.db"), "--shadow-rules", directory.path("shadow")],
                                              directory: directory.url)
        #expect(alone.status != 0)
        #expect(alone.stderr.contains("give --rules too"), "\(alone.stderr)")
        let broken = try await OncedBinary.run(["serve", "--port", "0", "--db", directory.path("o.db"),
                                                "--shadow-rules", directory.path("missing")])
        #expect(broken.status != 0, "\(broken.stderr)")
    }
}

private extension JSON {
    static func text(of json: JSON) -> String { json.text }
}
