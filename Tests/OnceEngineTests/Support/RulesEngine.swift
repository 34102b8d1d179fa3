import Foundation
@testable import OnceEngine

/// A real engine on SQLite with a rules directory holding `files`.
struct RulesEngine: Sendable {
    let directory = TemporaryDirectory()
    let rulesPath: String
    let runtime: RuleRuntime
    let engine: Engine

    init(_ files: [String: String], limits: RuleLimits = .init()) throws {
        rulesPath = directory.path("rules")
        try FileManager.default.createDirectory(atPath: rulesPath, withIntermediateDirectories: true)
        for (name, source) in files { try source.write(toFile: rulesPath + "/" + name, atomically: true, encoding: .utf8) }
        runtime = try RuleRuntime(directory: rulesPath, limits: limits)
        engine = try Engine(sqlitePath: directory.path("onced.db"), rules: runtime)
    }

    func write(_ name: String, _ source: String) throws {
        try source.write(toFile: rulesPath + "/" + name, atomically: true, encoding: .utf8)
    }

    @discardableResult
    func submit(_ body: String, distinctID: String = "user-1", namespace: Namespace = TestEngine.namespace) async throws -> RequestRecord {
        let element = try RequestDecoder.element(distinctID: distinctID, opsIn: JSONParser.parse(body).objectValue!)
        return try await engine.submit(WriteRequest(namespace: namespace, elements: [element]))
    }

    /// Each property's result, by name.
    func results(_ body: String, distinctID: String = "user-1", namespace: Namespace = TestEngine.namespace) async throws -> [String: PropertyResult] {
        var results: [String: PropertyResult] = [:]
        for result in try await submit(body, distinctID: distinctID, namespace: namespace).propertyResults { results[result.name] = result }
        return results
    }

    func value(_ name: String, of distinctID: String = "user-1", namespace: Namespace = TestEngine.namespace) async throws -> PropertyValue? {
        try await engine.profile(distinctID, in: namespace)?[name]
    }
}

/// A rule file whose property hook is `body` (with `name`, `value`, `ctx` in scope).
func propertyRule(_ body: String, _ fields: String = "") -> String {
    """
    return {
      \(fields)
      property = function(name, value, ctx)
        \(body)
      end,
    }
    """
}
