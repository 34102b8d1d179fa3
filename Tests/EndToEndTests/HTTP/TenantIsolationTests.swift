import Foundation
import OnceEngine
import Testing

/// Every endpoint, under every key, against every namespace: a request
/// reaches only the namespace of its path, and only with a key of that
/// path's workspace. Nothing another tenant sends — keys, paths or bodies
/// naming another workspace — reads or changes its data.
@Suite struct TenantIsolationTests {
    struct Tenant: Hashable, CustomStringConvertible {
        var workspace: String
        var version: String
        var base: String { "/v1/\(workspace)/\(version)" }
        var description: String { "\(workspace)/\(version)" }
        /// A property only this namespace has.
        var own: String { "only_\(workspace)_\(version)" }
    }

    static let tenants = [Daemon.workspace, Daemon.otherWorkspace].flatMap { workspace in
        ["live", "test"].map { Tenant(workspace: workspace, version: $0) }
    }
    static let keys: [(name: String, key: String?, workspace: String?)] = [
        ("A's key", Daemon.key, Daemon.workspace), ("B's key", Daemon.otherKey, Daemon.otherWorkspace),
        ("no key", nil, nil), ("unknown key", "onced_0000", nil),
    ]

    /// Each write appends a tag naming who sent it where; the body also names
    /// the other workspace and version, which must change nothing.
    static func writes(tag: String) -> [(path: String, body: String)] {
        let smuggled = #""workspace": "\#(Daemon.otherWorkspace)", "version": "test", "wsid": "\#(Daemon.otherWorkspace)""#
        return [
            ("set-once", #"{"$once": {"first_\#(tag)": 1}, "distinct_id": "shared", \#(smuggled)}"#),
            ("set", #"{"$set": {"last": "\#(tag)"}, "distinct_id": "shared", \#(smuggled)}"#),
            ("numerical-add", #"{"$add": {"adds": 1}, "distinct_id": "shared", \#(smuggled)}"#),
            ("list-append", #"{"$append": {"tags": ["\#(tag)"]}, "distinct_id": "shared", \#(smuggled)}"#),
            ("list-remove", #"{"$remove": {"tags": ["seed"]}, "distinct_id": "shared", \#(smuggled)}"#),
            ("unset", #"{"$unset": ["nothing"], "distinct_id": "shared", \#(smuggled)}"#),
            ("batch", #"{"batch": [{"distinct_id": "shared", \#(smuggled), "action": {"$append": {"tags": ["\#(tag)-batch"]}}}]}"#),
        ]
    }

    @Test(arguments: TestDataSet.Kind.allCases)
    func noRequestReachesAnotherNamespace(store: TestDataSet.Kind) async throws {
        let dataSet = try await TestDataSet.fresh(store)
        let daemon = try await Daemon.start(directory: dataSet.directory, store: dataSet.arguments)
        func key(of tenant: Tenant) -> String { tenant.workspace == Daemon.workspace ? Daemon.key : Daemon.otherKey }

        // Seed each namespace with its own profile, property and request record.
        var records: [Tenant: String] = [:]
        for tenant in Self.tenants {
            let reply = try await daemon.post("\(tenant.base)/profiles/properties/set",
                                              #"{"$set": {"owner": "\#(tenant)", "\#(tenant.own)": true, "tags": ["seed"]}, "distinct_id": "shared"}"#,
                                              key: key(of: tenant))
            try #require(reply.status == 202)
            records[tenant] = reply.json?["request_id"]?.stringValue
            let victim = try await daemon.post("\(tenant.base)/profiles/properties/set",
                                               #"{"$set": {"droppable": 1}, "distinct_id": "victim"}"#, key: key(of: tenant))
            try #require(victim.status == 202)
        }
        // What the lifecycle routes have erased or dropped so far, each only ever by its own namespace's key.
        var erased: Set<Tenant> = [], dropped: Set<Tenant> = []
        func expectLifecycle(after what: String) async throws {
            for other in Self.tenants {
                let victim = try await daemon.get("\(other.base)/profiles/victim", key: key(of: other))
                #expect(victim.status == (erased.contains(other) ? 404 : 200), "\(other)'s profile after \(what)")
                let types = try await daemon.get("\(other.base)/properties", key: key(of: other)).json?["properties"]?.objectValue
                #expect((types?["droppable"] == nil) == dropped.contains(other), "\(other)'s types after \(what)")
            }
        }

        // The matrix: every key × every namespace × every endpoint.
        var expectedTags: [Tenant: Set<String>] = [:]
        for (name, token, keyWorkspace) in Self.keys {
            for tenant in Self.tenants {
                let allowed = keyWorkspace == tenant.workspace
                let tag = "\(name.prefix(1))-\(tenant.workspace)-\(tenant.version)"
                for (path, body) in Self.writes(tag: tag) {
                    let reply = try await daemon.post("\(tenant.base)/profiles/properties/\(path)", body, key: token)
                    #expect(reply.status == (allowed ? 202 : 401), "\(name) \(path) on \(tenant): \(reply.status) \(reply.body)")
                }
                if allowed { expectedTags[tenant, default: []].formUnion([tag, "\(tag)-batch"]) }

                let profile = try await daemon.get("\(tenant.base)/profiles/shared", key: token)
                #expect(profile.status == (allowed ? 200 : 401), "\(name) reading \(tenant)")
                if allowed {
                    #expect(profile.json?["properties"]?.objectValue?["owner"] == .string("\(tenant)"), "\(name) read another namespace's profile")
                }
                let properties = try await daemon.get("\(tenant.base)/properties", key: token)
                #expect(properties.status == (allowed ? 200 : 401))
                if allowed {
                    let names = properties.json?["properties"]?.objectValue?.keys ?? []
                    #expect(Set(names.filter { $0.hasPrefix("only_") }) == [tenant.own], "\(tenant) lists \(names)")
                }
                let erasure = try await daemon.request("DELETE", "\(tenant.base)/profiles/victim", key: token)
                #expect(erasure.status == (allowed ? 202 : 401), "\(name) erasing in \(tenant): \(erasure.status)")
                if allowed { erased.insert(tenant) }
                let drop = try await daemon.request("DELETE", "\(tenant.base)/properties/droppable", key: token)
                #expect(drop.status == (allowed ? 202 : 401), "\(name) dropping in \(tenant): \(drop.status)")
                if allowed { dropped.insert(tenant) }
                try await expectLifecycle(after: "\(name) on \(tenant)")
                for (recordTenant, id) in records {
                    let record = try await daemon.get("\(tenant.base)/requests/\(id)", key: token)
                    #expect(record.status == (!allowed ? 401 : recordTenant == tenant ? 200 : 404),
                            "\(name) reading \(recordTenant)'s record through \(tenant): \(record.status)")
                }
            }
        }

        // Paths that try to step out of their workspace are refused or find nothing.
        for path in ["/v1/\(Daemon.workspace)/../\(Daemon.otherWorkspace)/live/profiles/shared",
                     "/v1/\(Daemon.otherWorkspace.lowercased())/live/profiles/shared",
                     "/v1/\(Daemon.otherWorkspace)%2F..%2F\(Daemon.workspace)/live/profiles/shared",
                     "/v1/\(Daemon.workspace)/LIVE/profiles/shared", "/v1/\(Daemon.workspace)/live/profiles/%2e%2e"] {
            let reply = try await daemon.get(path)
            #expect([400, 401, 404].contains(reply.status), "\(path): \(reply.status) \(reply.body)")
            #expect(!reply.body.contains(Daemon.otherWorkspace), "\(path) leaked: \(reply.body)")
        }

        // Each namespace holds exactly what was sent to it, with its own key.
        for tenant in Self.tenants {
            let profile = try await daemon.get("\(tenant.base)/profiles/shared", key: key(of: tenant))
            let properties = try #require(profile.json?["properties"]?.objectValue)
            #expect(properties["owner"] == .string("\(tenant)"))
            guard case .array(let list)? = properties["tags"] else {
                Issue.record("\(tenant) has no tags: \(profile.body)")
                continue
            }
            let tags = Set(list.compactMap(\.stringValue))
            #expect(tags == expectedTags[tenant] ?? [], "\(tenant) holds \(tags)")
            #expect(properties["adds"] == .integer(Int64(expectedTags[tenant]?.count ?? 0) / 2))
            let firsts = properties.keys.filter { $0.hasPrefix("first_") }
            #expect(firsts.allSatisfy { $0.hasSuffix("-\(tenant.workspace)-\(tenant.version)") }, "\(tenant): \(firsts)")
        }
    }
}
