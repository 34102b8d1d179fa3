import Hummingbird
import NIOCore
import NIOHTTPTypes

/// Closes the connection once a response that says `Connection: close` has
/// been written. Hummingbird closes only when the *request* asks for it, but
/// the API must close after a 413 (the rest of the body may still be on its
/// way) and after a 503 (a client that ignores `Retry-After` pays a reconnect).
final class CloseAfterResponse: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var closing = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            closing = head.headerFields[.connection] == "close"
        case .end where closing:
            closing = false
            let written = promise ?? context.eventLoop.makePromise()
            let channel = context.channel
            written.futureResult.whenComplete { _ in channel.close(promise: nil) }
            context.writeAndFlush(data, promise: written)
            return
        default:
            break
        }
        context.write(data, promise: promise)
    }
}
