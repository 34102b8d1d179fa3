import Foundation
import OnceEngine
import Testing

/// Requests sent back to back on one connection, before any answer: writes
/// are answered on the event loop and reads by the router, and each request
/// must still see every one before it and be answered in the order sent.
@Suite struct PipeliningTests {
    static let base = "/v1/\(Daemon.workspace)/live"

    @Test func answersKeepTheOrderOfTheRequests() async throws {
        let daemon = try await Daemon.start()
        let once = "\(Self.base)/profiles/properties/set-once"
        let requests = [
            RawHTTP.post(once, key: Daemon.key, body: #"{"$once": {"plan": "first"}, "distinct_id": "piped"}"#, connection: "keep-alive"),
            RawHTTP.get("\(Self.base)/profiles/piped", key: Daemon.key),
            RawHTTP.post(once, key: Daemon.key, body: #"{"$once": {"plan": "second"}, "distinct_id": "piped"}"#, connection: "keep-alive"),
            RawHTTP.post(once, key: "wrong-key", body: #"{"$once": {"plan": "third"}, "distinct_id": "piped"}"#, connection: "keep-alive"),
            RawHTTP.post(once, key: Daemon.key, body: #"{"$once": "#, connection: "keep-alive"),
            RawHTTP.get("/health", key: Daemon.key),
            RawHTTP.get("\(Self.base)/profiles/piped", key: Daemon.key, connection: "close"),
        ]
        let replies = try await offload {
            let fd = try RawHTTP.connect(daemon.port)
            defer { close(fd) }
            RawHTTP.send(fd, requests.joined())
            return RawHTTP.parseAll(RawHTTP.readAll(fd).bytes)
        }
        #expect(replies.map(\.status) == [202, 200, 202, 401, 400, 200, 200], "\(replies.map(\.head))")
        guard replies.count == 7 else { return }
        #expect(replies[1].body.contains(#""plan":"first""#), "the read after the write sees it: \(replies[1].body)")
        #expect(replies[4].body.contains("malformed JSON"))
        #expect(replies[5].body.contains(#""status":"ok""#))
        #expect(replies[6].body.contains(#""plan":"first""#) && !replies[6].body.contains("second"))
        // Both writes were applied, in order: the second found the value set.
        let second = try #require(JSONParser.parse(Array(replies[2].body.utf8)).objectValue?["request_id"]?.stringValue)
        let record = try await daemon.get("\(Self.base)/requests/\(second)")
        #expect(record.body.contains(#""outcome":"unchanged""#), "\(record.body)")

        // Counted under the router's metric names, by route and status.
        let metrics = try await daemon.get("/metrics", key: nil).body
        let route = #"http_route="/v1/{wsid}/{version}/profiles/properties/set-once",http_request_method="POST""#
        #expect(metrics.contains(#"hb_requests{\#(route),http_response_status_code="202"} 2"#), "\(metrics)")
        #expect(metrics.contains(#"hb_requests{\#(route),http_response_status_code="401"} 1"#))
        #expect(metrics.contains(#"hb_request_errors{\#(route),error_type="400"} 1"#))
    }

    /// Hundreds of writes in one send, ~800 KB, many reads' worth: reading
    /// pauses while a request waits and resumes as the queue drains, so every
    /// write is answered, once and in order, with the reads between them.
    @Test func aLongPipelineIsAnsweredWhole() async throws {
        let daemon = try await Daemon.start()
        let body = #"{"$add": {"n": 1}, "distinct_id": "counted"}"# + String(repeating: " ", count: 2_000)
        let add = RawHTTP.post("\(Self.base)/profiles/properties/numerical-add", key: Daemon.key, body: body, connection: "keep-alive")
        let read = RawHTTP.get("\(Self.base)/profiles/counted", key: Daemon.key)
        var requests: [String] = []
        for index in 1...400 {
            requests.append(add)
            if index % 100 == 0 { requests.append(read) }
        }
        requests.append(RawHTTP.get("/health", key: Daemon.key, connection: "close"))
        let sent = requests.joined()
        let replies = try await offload {
            let fd = try RawHTTP.connect(daemon.port)
            defer { close(fd) }
            RawHTTP.send(fd, sent)
            return RawHTTP.parseAll(RawHTTP.readAll(fd).bytes)
        }
        #expect(replies.count == 405)
        #expect(replies.allSatisfy { $0.status == 202 || $0.status == 200 })
        // Each read sees exactly the writes sent before it.
        let reads = replies.filter { $0.status == 200 }.dropLast().map(\.body)
        #expect(reads.map { $0.contains(#""n":"#) } == [true, true, true, true])
        for (index, body) in reads.enumerated() {
            #expect(body.contains(#""n":\#((index + 1) * 100)"#), "\(body)")
        }
        let ids = Set(replies.filter { $0.status == 202 }.map(\.body))
        #expect(ids.count == 400, "every write got its own request id")
    }

    /// Clients that hang up halfway through a write's body give their places
    /// under `--max-in-flight` back: more of them than the limit leave writes served.
    @Test func writesCutOffHalfwayGiveTheirAdmissionBack() async throws {
        let daemon = try await Daemon.start(arguments: ["--max-in-flight", "2"])
        let path = "\(Self.base)/profiles/properties/set-once"
        try await offload {
            for _ in 0..<5 {
                let fd = try RawHTTP.connect(daemon.port)
                RawHTTP.send(fd, "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(Daemon.key)\r\n"
                             + "Content-Length: 500\r\n\r\n{\"$once\": {")
                close(fd)
            }
        }
        // The daemon learns of each hang-up a moment later: allow it that, not more.
        var status = 0
        for _ in 0..<100 where status != 202 {
            status = try await daemon.post(path, #"{"$once": {"plan": "pro"}, "distinct_id": "after"}"#).status
            if status != 202 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(status == 202)
        #expect(try await daemon.post(path, #"{"$once": {"plan": "pro"}, "distinct_id": "again"}"#).status == 202)
    }

    /// A write pipelined behind a request the router answers before reading its
    /// body (a declared length past the limit) is never taken from that body.
    @Test func aRefusedRequestsBodyIsNotTakenForTheNextRequest() async throws {
        let daemon = try await Daemon.start(arguments: ["--max-body-bytes", "64"])
        let body = #"{"$once": {"plan": "smuggled"}, "distinct_id": "inner"}"#
        let inner = RawHTTP.post("\(Self.base)/profiles/properties/set-once", key: Daemon.key, body: body, connection: "keep-alive")
        let outer = "POST \(Self.base)/profiles/properties/set-once HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(Daemon.key)\r\n"
            + "Content-Length: \(inner.utf8.count + 100)\r\n\r\n" + inner + String(repeating: " ", count: 100)
        let replies = try await offload {
            let fd = try RawHTTP.connect(daemon.port)
            defer { close(fd) }
            RawHTTP.send(fd, outer)
            return RawHTTP.parseAll(RawHTTP.readAll(fd).bytes)
        }
        #expect(replies.map(\.status) == [413], "\(replies.map(\.head))")
        #expect(try await daemon.get("\(Self.base)/profiles/inner").status == 404)
    }
}
