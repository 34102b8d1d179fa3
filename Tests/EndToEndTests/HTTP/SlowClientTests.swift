import Foundation
import Testing

/// Slow and idle clients are cut off by the idle timeout; others keep being served.
@Suite struct SlowClientTests {
    @Test func slowlorisAndIdleConnectionsAreClosed() async throws {
        let daemon = try await Daemon.start(arguments: ["--idle-timeout", "1"])
        // A request that never finishes its headers, and a connection that never says anything.
        let slow = try RawHTTP.connect(daemon.port)
        let idle = try RawHTTP.connect(daemon.port)
        defer { close(slow); close(idle) }
        _ = "POST /v1/FY12345678/live/profiles/properties/set HTTP/1.1\r\nHost: x\r\n".withCString { send(slow, $0, strlen($0), 0) }

        // Others are served meanwhile.
        #expect(try await daemon.get("/health", key: nil).status == 200)

        let started = Date()
        var buffer = [UInt8](repeating: 0, count: 1024)
        for fd in [slow, idle] {
            // recv returns 0 (closed by the server) rather than timing out after 10 s.
            var received = recv(fd, &buffer, buffer.count, 0)
            while received > 0 { received = recv(fd, &buffer, buffer.count, 0) }
            #expect(received == 0, "the server did not close the connection")
        }
        #expect(Date().timeIntervalSince(started) < 8)
        #expect(try await daemon.get("/health", key: nil).status == 200)
    }

    @Test func hugeHeadersAreRefused() async throws {
        let daemon = try await Daemon.start()
        let reply = try? await daemon.request("GET", "/health", key: nil, headers: ["X-Huge": String(repeating: "h", count: 200_000)])
        #expect(reply == nil || reply!.status >= 400)
        #expect(try await daemon.get("/health", key: nil).status == 200)
    }
}

/// Requests whose framing lies: each is cut off, nothing of it is written, and
/// the daemon keeps serving others.
@Suite struct LyingClientTests {
    static let path = "/v1/\(Daemon.workspace)/live/profiles/properties/set-once"

    func head(contentLength: String, extra: String = "") -> String {
        "POST \(Self.path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(Daemon.key)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(contentLength)\r\n\(extra)\r\n"
    }

    func isAbsent(_ profile: String, on daemon: Daemon) async throws -> Bool {
        try await daemon.get("/v1/\(Daemon.workspace)/live/profiles/\(profile)").status == 404
    }

    @Test func bodyShorterThanItsLengthIsCutOffByTheTimeout() async throws {
        let daemon = try await Daemon.start(arguments: ["--idle-timeout", "1"])
        let (reply, closed) = try await offload {
            let fd = try RawHTTP.connect(daemon.port)
            defer { close(fd) }
            RawHTTP.send(fd, head(contentLength: "1000") + #"{"$once": {"a": 1}, "distinct_id": "short"}"#)
            let (bytes, closed) = RawHTTP.readAll(fd)
            return (RawHTTP.parse(bytes), closed)
        }
        #expect(closed, "the server kept waiting for the rest of the body")
        #expect(reply == nil || reply!.status >= 400)
        #expect(try await isAbsent("short", on: daemon))
    }

    @Test func bytesPastTheLengthAreNotTakenForARequest() async throws {
        let daemon = try await Daemon.start()
        let body = #"{"$once": {"a": 1}, "distinct_id": "long"}"#
        let replies = try await offload {
            let fd = try RawHTTP.connect(daemon.port)
            defer { close(fd) }
            // The length covers 10 bytes of the body; the rest is garbage where a request line should be.
            RawHTTP.send(fd, head(contentLength: "10") + body)
            return String(decoding: RawHTTP.readAll(fd).bytes, as: UTF8.self)
        }
        #expect(replies.hasPrefix("HTTP/1.1 400"), "\(replies.prefix(200))")
        #expect(try await isAbsent("long", on: daemon))
        #expect(try await daemon.get("/health", key: nil).status == 200)
    }

    @Test func aHugeDeclaredLengthIsRefusedWithoutWaitingForIt() async throws {
        let daemon = try await Daemon.start(arguments: ["--max-body-bytes", "1024"])
        let reply = try await offload {
            try RawHTTP.exchange(daemon.port, head(contentLength: "100000000000") + #"{"$once": {"a": 1}, "distinct_id": "huge"}"#)
        }
        #expect(reply?.status == 413, "\(String(describing: reply))")
        #expect(try await isAbsent("huge", on: daemon))
    }

    /// After a 413 the rest of the body may still be coming: the server closes
    /// the connection at once rather than keep it to the idle timeout.
    @Test(arguments: [true, false])
    func a413ClosesItsConnection(declared: Bool) async throws {
        let daemon = try await Daemon.start(arguments: ["--max-body-bytes", "1024", "--idle-timeout", "30"])
        let body = #"{"$once": {"a": ""# + String(repeating: "x", count: 4000) + #""}, "distinct_id": "big"}"#
        let (text, closed, seconds) = try await offload {
            let fd = try RawHTTP.connect(daemon.port, timeout: 10)
            defer { close(fd) }
            let started = Date()
            if declared {
                RawHTTP.send(fd, RawHTTP.post(Self.path, key: Daemon.key, body: body, connection: "keep-alive"))
            } else {
                RawHTTP.send(fd, head(contentLength: "0").replacingOccurrences(of: "Content-Length: 0\r\n", with: "Transfer-Encoding: chunked\r\n")
                             + String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n0\r\n\r\n")
            }
            let (bytes, closed) = RawHTTP.readAll(fd)
            return (String(decoding: bytes, as: UTF8.self), closed, Date().timeIntervalSince(started))
        }
        #expect(text.hasPrefix("HTTP/1.1 413"), "\(text.prefix(200))")
        #expect(closed && seconds < 8, "the connection stayed open after the 413 (\(seconds) s)")
        #expect(try await isAbsent("big", on: daemon))
    }

    @Test(arguments: ["-5", "12abc", "18446744073709551616", "10, 20"])
    func anInvalidLengthIsRefused(contentLength: String) async throws {
        let daemon = try await Daemon.start()
        let reply = try await offload {
            try RawHTTP.exchange(daemon.port, head(contentLength: contentLength) + #"{"$once": {"a": 1}, "distinct_id": "bad"}"#)
        }
        #expect(reply == nil || reply!.status == 400 || reply!.status == 413, "\(String(describing: reply))")
        #expect(try await isAbsent("bad", on: daemon))
        #expect(try await daemon.get("/health", key: nil).status == 200)
    }

    @Test func lengthAndChunkedTogetherAreRefused() async throws {
        let daemon = try await Daemon.start()
        let reply = try await offload {
            try RawHTTP.exchange(daemon.port, head(contentLength: "5", extra: "Transfer-Encoding: chunked\r\n")
                                 + "2a\r\n" + #"{"$once": {"a": 1}, "distinct_id": "smug"}"# + "\r\n0\r\n\r\n")
        }
        #expect(reply == nil || reply!.status == 400, "\(String(describing: reply))")
        #expect(try await isAbsent("smug", on: daemon))
    }

    @Test func manyIdleConnectionsAreClosedWhileOthersAreServed() async throws {
        let daemon = try await Daemon.start(arguments: ["--idle-timeout", "2"])
        let connections = try await offload { try (0..<400).map { _ in try RawHTTP.connect(daemon.port) } }
        defer { connections.forEach { close($0) } }
        let served = try await daemon.post(Self.path, #"{"$once": {"a": 1}, "distinct_id": "served"}"#)
        #expect(served.status == 202)
        let closedByServer = try await offload { connections.filter { RawHTTP.readAll($0).closed }.count }
        #expect(closedByServer == connections.count)
    }
}
