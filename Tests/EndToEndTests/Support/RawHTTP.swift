import Foundation

/// HTTP/1.1 over a plain blocking socket, for what URLSession will not send:
/// lies about lengths, stalls, floods of connections. Call from threads
/// (``offload``), never from the cooperative pool.
enum RawHTTP {
    struct Reply {
        var status: Int
        var head: String
        var body: String
    }

    /// A TCP connection to 127.0.0.1:`port`; reads give up after `timeout` seconds.
    static func connect(_ port: Int, timeout: Int = 10) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static func send(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let result = bytes.withUnsafeMutableBytes { Foundation.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard result > 0 else { return }
            sent += result
        }
    }

    /// Everything the server sends until it closes the connection (or the read timeout).
    /// `closed` tells which: true when the server closed it.
    static func readAll(_ fd: Int32) -> (bytes: [UInt8], closed: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { return (received, true) }
            if count < 0 { return (received, errno == ECONNRESET) }
            received += buffer[0..<count]
        }
    }

    /// One request on a fresh connection; nil when no complete reply came.
    static func exchange(_ port: Int, _ request: String) throws -> Reply? {
        let fd = try connect(port)
        defer { close(fd) }
        send(fd, request)
        return readReply(fd)
    }

    /// Reads one reply: its head and as many body bytes as its Content-Length says.
    static func readReply(_ fd: Int32) -> Reply? {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let reply = parse(received), reply.body.utf8.count >= contentLength(of: reply.head) { return reply }
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { return parse(received) }
            received += buffer[0..<count]
        }
    }

    private static func contentLength(of head: String) -> Int {
        let line = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
        return line.flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
    }

    static func parse(_ bytes: [UInt8]) -> Reply? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        let head = String(text[..<split.lowerBound])
        let fields = head.split(separator: " ", maxSplits: 2)
        guard fields.count >= 2, let status = Int(fields[1]) else { return nil }
        return Reply(status: status, head: head, body: String(text[split.upperBound...]))
    }

    /// Every reply in `bytes`, in order, each cut at its Content-Length.
    static func parseAll(_ bytes: [UInt8]) -> [Reply] {
        var replies: [Reply] = []
        var rest = bytes[...]
        while let reply = parse(Array(rest)) {
            let headLength = reply.head.utf8.count + 4
            let length = contentLength(of: reply.head)
            guard rest.count >= headLength + length else { break }
            replies.append(Reply(status: reply.status, head: reply.head,
                                 body: String(decoding: rest.dropFirst(headLength).prefix(length), as: UTF8.self)))
            rest = rest.dropFirst(headLength + length)
        }
        return replies
    }

    /// A complete GET request text.
    static func get(_ path: String, key: String, connection: String = "keep-alive") -> String {
        "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\nConnection: \(connection)\r\n\r\n"
    }

    /// A complete request text.
    static func post(_ path: String, key: String, body: String, connection: String = "close") -> String {
        "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: \(connection)\r\n\r\n\(body)"
    }
}
