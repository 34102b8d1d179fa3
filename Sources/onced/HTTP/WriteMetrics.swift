import Dispatch
import Hummingbird
import Metrics
import OnceEngine
import Synchronization

/// The request metrics Hummingbird's `MetricsMiddleware` keeps, under its names
/// and dimensions, for the writes ``EventLoopWrites`` answers without it: one
/// series per route and status whichever way a request went.
final class WriteMetrics: Sendable {
    private struct Series {
        let requests: Counter
        let duration: Timer
        let errors: Counter
    }

    private struct Key: Hashable {
        var op: Op
        var status: Int
    }

    private let series = Mutex<[Key: Series]>([:])

    func record(_ op: Op, status: HTTPResponse.Status, failed: Bool, since startedAt: UInt64) {
        let key = Key(op: op, status: status.code)
        let metrics = series.withLock { series in
            if let known = series[key] { return known }
            let route = "/v1/{wsid}/{version}/profiles/properties/\(API.paths[op]!)"
            let dimensions = [("http.route", route), ("http.request.method", "POST"), ("http.response.status_code", String(status.code))]
            let made = Series(requests: Counter(label: "hb.requests", dimensions: dimensions),
                              duration: Timer(label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds),
                              errors: Counter(label: "hb.request.errors", dimensions: [("http.route", route), ("http.request.method", "POST"),
                                                                                       ("error.type", String(status.code))]))
            series[key] = made
            return made
        }
        metrics.requests.increment()
        // As the middleware does: an error is counted, a response is timed.
        if failed {
            metrics.errors.increment()
        } else {
            metrics.duration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - startedAt))
        }
    }
}
