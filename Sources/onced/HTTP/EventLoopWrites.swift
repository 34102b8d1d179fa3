import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTPTypes
import OnceEngine

/// Answers the single-op write routes where they arrive, on the connection's
/// event loop: the body is gathered, authorized, decoded, run through the rules
/// and validated there, and the commit's completion writes the 202. A write
/// takes no task and no hop to the cooperative pool and back, which cost more
/// than the rules (#16). Every other request, and a write whose key or types
/// must first be read, goes the usual way (Hummingbird's router, or a task).
///
/// One request is worked on at a time per connection: a pipelined request
/// waits, so answers keep their order, and reading stops while one waits, so
/// a client cannot queue more than one read's worth. (Reading is not stopped
/// for every request in progress: that costs two `epoll_ctl` calls a write.)
final class EventLoopWrites: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// What every connection's handler shares.
    struct Shared: Sendable {
        let endpoint: WriteEndpoint
        let admission: Admission
        let maxBodyBytes: Int
        let metrics: WriteMetrics
        let logger: Logger
    }

    private enum State {
        case idle
        /// Hummingbird has the request until both its last part went on and its answer's last part came back.
        case forwarding(requestEnded: Bool, answered: Bool)
        /// A write's body is being gathered.
        case reading(WriteEndpoint.Call, startedAt: UInt64)
        /// A write is with the engine.
        case answering
        /// Refused before its body (413, 503): the connection closes once the answer is out.
        case refusing
    }

    private let shared: Shared
    private var state = State.idle
    /// Parts of requests behind the one in progress.
    private var waiting = CircularBuffer<HTTPRequestPart>()
    private var readDeferred = false
    private var date = (second: 0, text: "")

    init(_ shared: Shared) {
        self.shared = shared
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if !waiting.isEmpty || isBusy {
            waiting.append(part)
        } else {
            handle(part, context: context)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        guard case .forwarding(let requestEnded, _) = state, case .end = unwrapOutboundIn(data) else { return }
        state = requestEnded ? .idle : .forwarding(requestEnded: false, answered: true)
        if requestEnded { resume(context: context) }
    }

    /// A client gone halfway through a write's body gives its admission back.
    /// (Not `channelInactive`: Hummingbird's state handler before this one does not pass it on.)
    func handlerRemoved(context: ChannelHandlerContext) {
        if case .reading = state {
            shared.admission.leave()
            state = .refusing
        }
    }

    func read(context: ChannelHandlerContext) {
        if !waiting.isEmpty {
            readDeferred = true
        } else {
            context.read()
        }
    }

    /// Whether a new request must wait: the one before it is read and not yet answered.
    private var isBusy: Bool {
        switch state {
        case .idle, .reading, .forwarding(requestEnded: false, _): false
        case .forwarding(requestEnded: true, _), .answering, .refusing: true
        }
    }

    private func handle(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch (state, part) {
        case (.idle, .head(let head)):
            guard let call = Self.call(for: head) else {
                state = .forwarding(requestEnded: false, answered: false)
                context.fireChannelRead(wrapInboundOut(part))
                return
            }
            let startedAt = DispatchTime.now().uptimeNanoseconds
            if shared.logger.logLevel <= .debug {
                shared.logger.debug("Request", metadata: ["hb.request.path": "\(head.path ?? "")", "hb.request.method": "POST"])
            }
            guard shared.admission.enter() else {
                return refuse(Admission.overloaded, call, startedAt: startedAt, context: context)
            }
            if let declared = Self.onlyValue(of: .contentLength, in: head.headerFields).flatMap(Int.init), declared > shared.maxBodyBytes {
                shared.admission.leave()
                return refuse(.tooLarge(limit: shared.maxBodyBytes), call, startedAt: startedAt, context: context)
            }
            state = .reading(call, startedAt: startedAt)
        case (.forwarding(false, let answered), _):
            context.fireChannelRead(wrapInboundOut(part))
            if case .end = part {
                state = answered ? .idle : .forwarding(requestEnded: true, answered: false)
                if answered { resume(context: context) }
            }
        case (.reading(var call, let startedAt), .body(var buffer)):
            guard call.body.readableBytes + buffer.readableBytes <= shared.maxBodyBytes else {
                shared.admission.leave()
                return refuse(.tooLarge(limit: shared.maxBodyBytes), call, startedAt: startedAt, context: context)
            }
            state = .answering  // the call leaves the enum while its body grows, so the buffer is not copied
            call.body.writeBuffer(&buffer)
            state = .reading(call, startedAt: startedAt)
        case (.reading(let call, let startedAt), .end):
            state = .answering
            let loop = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            shared.endpoint.answer(call) { result in
                loop.eventLoop.execute {
                    let (handler, context) = loop.value
                    handler.shared.admission.leave()
                    handler.send(result, call, startedAt: startedAt, context: context)
                    handler.state = .idle
                    handler.resume(context: context)
                }
            }
        case (.refusing, _):
            break  // the rest of a refused request, dropped: the connection is closing
        default:
            // A part out of HTTP's order cannot come from NIO's decoder.
            context.close(promise: nil)
        }
    }

    /// Works the requests that waited, until one is in progress again; then reads on.
    private func resume(context: ChannelHandlerContext) {
        var forwarded = false
        while !isBusy, let part = waiting.popFirst() {
            if case .forwarding = state { forwarded = true }
            handle(part, context: context)
            if case .forwarding = state { forwarded = true }
        }
        // Hummingbird's side takes what it was given at the end of a read: this is one.
        if forwarded { context.fireChannelReadComplete() }
        if readDeferred && waiting.isEmpty {
            readDeferred = false
            context.read()
        }
    }

    private func refuse(_ error: APIError, _ call: WriteEndpoint.Call, startedAt: UInt64, context: ChannelHandlerContext) {
        state = .refusing
        send(.failure(error), call, startedAt: startedAt, context: context)
    }

    private func send(_ result: Result<RequestRecord, any Error>, _ call: WriteEndpoint.Call, startedAt: UInt64,
                      context: ChannelHandlerContext) {
        let status: HTTPResponse.Status
        var headers: HTTPFields
        let body: ByteBuffer
        switch result {
        case .success(let record):
            status = .accepted
            headers = HTTPFields()
            headers.reserveCapacity(4)
            headers.append(HTTPField(name: .contentType, value: "application/json"))
            body = WriteEndpoint.accepted(record, allocator: context.channel.allocator)
        case .failure(let error):
            let apiError = APIError.reported(error, to: shared.logger)
            (status, headers, body) = (apiError.status, apiError.headers, context.channel.allocator.buffer(bytes: apiError.body))
        }
        // Appended, not set: none of them is there yet, and setting one searches the fields first.
        headers.append(HTTPField(name: .contentLength, value: String(body.readableBytes)))
        headers.append(HTTPField(name: .date, value: httpDate()))
        headers.append(HTTPField(name: .server, value: "onced"))
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        shared.metrics.record(call.op, status: status, failed: status.code >= 400, since: startedAt)
    }

    /// RFC 9110's `Date`, formatted once a second per connection.
    private func httpDate() -> String {
        let now = time(nil)
        if now != date.second {
            var seconds = now
            var parts = tm()
            gmtime_r(&seconds, &parts)
            var text = [CChar](repeating: 0, count: 40)
            let count = strftime(&text, text.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
            date = (now, String(decoding: text[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return date.text
    }

    /// The call a request head makes, if it is a single-op write in the routes' exact shape:
    /// `POST /v1/{wsid}/{version}/profiles/properties/{op}`, every segment non-empty.
    /// (Read as bytes: Characters cost a grapheme break check each, for every request.)
    static func call(for head: HTTPRequest) -> WriteEndpoint.Call? {
        guard head.method == .post, let target = head.path?.utf8 else { return nil }
        let path = target[..<(target.firstIndex { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? target.endIndex)]
        let segments = path.split(separator: UInt8(ascii: "/"), maxSplits: 7, omittingEmptySubsequences: false)
        guard segments.count == 7, segments[0].isEmpty, segments[1].elementsEqual("v1".utf8),
              segments[4].elementsEqual("profiles".utf8), segments[5].elementsEqual("properties".utf8),
              !segments[2].isEmpty, !segments[3].isEmpty,
              let op = opsByPath.first(where: { $0.path.elementsEqual(segments[6]) })?.op else { return nil }
        return WriteEndpoint.Call(op: op, workspace: Substring(segments[2]), version: Substring(segments[3]),
                                  authorization: onlyValue(of: .authorization, in: head.headerFields), body: ByteBuffer())
    }

    private static let opsByPath = API.paths.map { (op: $0.key, path: Array($0.value.utf8)) }

    /// The field's value if the head has it once; nil if not at all or more than once (a
    /// second key is refused, not joined into the first as `HTTPFields`' subscript does).
    private static func onlyValue(of name: HTTPField.Name, in fields: HTTPFields) -> String? {
        var value: String?
        for field in fields where field.name == name {
            guard value == nil else { return nil }
            value = field.value
        }
        return value
    }
}
