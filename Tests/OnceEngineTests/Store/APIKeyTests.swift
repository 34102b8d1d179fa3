import Testing
@testable import OnceEngine

/// Keys are stored and compared as lowercase hex SHA-256; the key ring gives one workspace per key.
@Suite struct APIKeyTests {
    @Test func hashIsTheHexSHA256OfTheKey() {
        // FIPS 180-2's "abc" example.
        #expect(APIKey.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(APIKey.hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func generatedKeysAreThirtyTwoRandomBytesInHex() {
        let keys = (0..<100).map { _ in APIKey.generate() }
        for key in keys {
            #expect(key.hasPrefix("onced_"))
            #expect(key.dropFirst(6).count == 64)
            #expect(key.dropFirst(6).allSatisfy { "0123456789abcdef".contains($0) })
        }
        #expect(Set(keys).count == keys.count)
    }

    @Test func aDevelopmentKeyAuthorizesOnlyItsWorkspace() async throws {
        let ring = KeyRing(store: nil, developmentKeys: [("A", "key-a"), ("B", "key-b")])
        #expect(try await ring.authorizes("key-a", for: "A"))
        #expect(try await ring.authorizes("key-b", for: "B"))
        #expect(try await !ring.authorizes("key-a", for: "B"))
        #expect(try await !ring.authorizes("key-c", for: "A"))
        #expect(try await !ring.authorizes("", for: "A"))
    }
}
