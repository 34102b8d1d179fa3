import Testing
import OnceEngine
@testable import OncePostgres

/// The PostgreSQL store's registrations, without a server.
@Suite struct PostgresTypeCacheTests {
    @Test func theTypeCacheIsBounded() {
        let cache = TypeCache(capacity: 100)
        for index in 0..<1000 {
            cache.remember([PropertyName(namespace: TestEngine.namespace, name: "p\(index)"): Registration(type: .number, generation: 0)])
        }
        #expect(cache.count <= 100)
        #expect(cache.registration(of: "p999", in: TestEngine.namespace)?.type == .number)
    }

    /// Each generation of a name has its own stored name, and each reads back as the name.
    @Test(arguments: ["plan", "a$b", "x y", "ünï", "9"])
    func storedNamesReadBackAsTheirProperty(name: String) {
        let names = (0..<3).map { Registration(type: .string, generation: Int64($0)).storedName(of: name) }
        #expect(Set(names).count == 3)
        #expect(names[0] == name)
        for stored in names { #expect(Registration.propertyName(stored: stored) == name) }
    }
}
