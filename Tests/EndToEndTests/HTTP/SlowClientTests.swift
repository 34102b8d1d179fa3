import Foundation
import Testing

/// Slow and idle clients are cut off by the idle timeout; others keep being served.
@Suite struct SlowClientTests {
    /// Opens a TCP connection to 127.0.0.1:`port`.
    static func connect(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    @Test func slowlorisAndIdleConnectionsAreClosed() async throws {
        let daemon = try await Daemon.start(arguments: ["--idle-timeout", "1"])
        // A request that never finishes its headers, and a connection that never says anything.
        let slow = try Self.connect(daemon.port)
        let idle = try Self.connect(daemon.port)
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
