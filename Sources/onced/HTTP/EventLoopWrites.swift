import Foundation
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
            if let declared = head.headerFields[.contentLength].flatMap(Int.init), declared > shared.maxBodyBytes {
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
        let body: [UInt8]
        switch result {
        case .success(let record):
            (status, headers, body) = (.accepted, [.contentType: "application/json"], WriteEndpoint.accepted(record))
        case .failure(let error):
            let apiError = APIError.reported(error, to: shared.logger)
            (status, headers, body) = (apiError.status, apiError.headers, apiError.body)
        }
        headers[.contentLength] = String(body.count)
        headers[.date] = httpDate()
        headers[.server] = "onced"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: body))), promise: nil)
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
    static func call(for head: HTTPRequest) -> WriteEndpoint.Call? {
        guard head.method == .post, let target = head.path, target.hasPrefix("/v1/") else { return nil }
        let path = target.prefix { $0 != "?" && $0 != "#" }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 7, segments[4] == "profiles", segments[5] == "properties",
              !segments[2].isEmpty, !segments[3].isEmpty, let op = opsByPath[segments[6]] else { return nil }
        return WriteEndpoint.Call(op: op, workspace: segments[2], version: segments[3],
                                  authorization: head.headerFields[.authorization], body: ByteBuffer())
    }

    private static let opsByPath = Dictionary(uniqueKeysWithValues: API.paths.map { (Substring($0.value), $0.key) })
}
