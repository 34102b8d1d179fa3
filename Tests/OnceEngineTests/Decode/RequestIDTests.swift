import Foundation
import Testing
import OnceEngine

/// Request ids are version 7 UUIDs: opaque to callers, ordered by time for the store's index.
@Suite struct RequestIDTests {
    @Test func carriesVersionSevenTheVariantAndTheMillisecond() {
        let date = Date(timeIntervalSince1970: 1_764_400_000.123)
        let text = UUID.timeOrdered(at: date).uuidString.lowercased()
        let hex = text.replacingOccurrences(of: "-", with: "")
        #expect(UInt64(hex.prefix(12), radix: 16) == 1_764_400_000_123)
        #expect(Array(hex)[12] == "7")
        #expect("89ab".contains(Array(hex)[16]))
    }

    @Test func laterIdsSortAfterEarlierOnesAsText() {
        // Half a millisecond into each millisecond, so no step rounds into its neighbour.
        let start = Date(timeIntervalSince1970: 1_764_400_000.0005)
        let ids = (0..<1000).map { UUID.timeOrdered(at: start.addingTimeInterval(Double($0) / 1000)).uuidString.lowercased() }
        #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test func idsOfOneMillisecondAreDistinct() {
        let date = Date()
        let ids = Set((0..<10_000).map { _ in UUID.timeOrdered(at: date) })
        #expect(ids.count == 10_000)
    }

    @Test func aRequestGetsOneByDefault() {
        let request = WriteRequest(namespace: Namespace(workspace: "W", version: .live), elements: [])
        #expect(request.id.uuidString.dropFirst(14).first == "7")
    }

    @Test func lowercaseStringIsTheLowercasedUUIDString() {
        for id in (0..<1000).map({ _ in UUID() }) + [UUID.timeOrdered(), UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))] {
            #expect(id.lowercaseString == id.uuidString.lowercased())
        }
    }
}
