import ArgumentParser
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import OnceEngine
import Prometheus
import ServiceLifecycle
import UnixSignals

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP API daemon (SPEC §3).")

    @OptionGroup var store: StoreOptions
    @OptionGroup var rules: RulesDirectoryOption
    @OptionGroup var limits: RequestLimitOptions

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port).")
    var port = 8080

    @Option(name: .customLong("api-key"), help: "A development key, WSID:KEY (repeatable). Persistent keys: `onced keys create`.")
    var apiKeys: [String] = []

    @Option(help: "Largest accepted request body, in bytes.")
    var maxBodyBytes = 1024 * 1024

    @Option(help: "API requests worked on at once; more are answered 503 overloaded with Retry-After.")
    var maxInFlight = 256

    @Option(help: "Seconds before an idle or stalled connection is closed.")
    var idleTimeout = 30

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "A candidate rules directory run beside the live rules on every write, never written (GET …/rules/shadow).")
    var shadowRules: String?

    @Option(help: "Days request records are kept (0: forever); older ones are deleted in the background and answer 404.")
    var recordRetention = 30

    @Option(help: "Seconds a cohort query or count may run; past it the answer is 503 query_timeout.")
    var queryTimeout = 5.0

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard maxBodyBytes > 0 else { throw ValidationError("--max-body-bytes must be positive") }
        guard maxInFlight > 0 else { throw ValidationError("--max-in-flight must be positive") }
        guard queryTimeout > 0, queryTimeout <= 3600 else { throw ValidationError("--query-timeout must be above 0 and at most 3600 seconds") }
        guard idleTimeout > 0 else { throw ValidationError("--idle-timeout must be positive") }
        guard (0...36_500).contains(recordRetention) else { throw ValidationError("--record-retention must be 0 (forever) to 36500 days") }
        _ = try developmentKeys()
    }

    func developmentKeys() throws -> [(workspace: String, key: String)] {
        try apiKeys.map { pair in
            guard let colon = pair.firstIndex(of: ":"), colon != pair.startIndex, pair.index(after: colon) != pair.endIndex else {
                throw ValidationError("--api-key takes WSID:KEY")
            }
            return (String(pair[..<colon]), String(pair[pair.index(after: colon)...]))
        }
    }

    func run() async throws {
        var logger = Logger(label: "onced")
        logger.logLevel = logLevel
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        Engine.registerMetrics()

        let runtime = try rules.runtime()
        let shadowRuntime = try shadowRules.map { try rules.limits.runtime(directory: $0) }
        if shadowRuntime != nil && runtime == nil { throw ValidationError("--shadow-rules compares with the live rules: give --rules too") }
        let store = try await store.open()
        let engine = Engine(store: store, rules: runtime)
        let shadow = shadowRuntime.map { ShadowRules(shadow: $0, engine: engine) }
        ShadowRules.registerMetrics()
        let api = API(engine: engine, keys: KeyRing(store: store, developmentKeys: try developmentKeys()), shadow: shadow,
                      maxBodyBytes: maxBodyBytes, admission: Admission(limit: maxInFlight), limits: limits.limits,
                      queryTimeout: .milliseconds(Int64((queryTimeout * 1000).rounded())), registry: registry)
        let example = try developmentKeys().first
        let app = Application(
            router: api.router(),
            server: HTTPServerBuilder { [idleTimeout, writes = api.eventLoopWrites(logger: logger)] responder in
                // A handler per connection: the autoclosure runs for each.
                APIChannel(http1: HTTP1Channel(responder: responder,
                                               configuration: .init(additionalChannelHandlers: [CloseAfterResponse()],
                                                                    idleTimeout: .seconds(Int64(idleTimeout)))),
                           writes: writes)
            },
            configuration: .init(address: .hostname(host, port: port), serverName: "onced"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? port
                Serve.announce(host: host, port: port, example: example)
            },
            logger: logger
        )
        var services: [any Service] = [app, RuleWatcher(runtimes: [runtime, shadowRuntime].compactMap { $0 })]
        if let shadow { services.append(ShadowWorker(shadow: shadow)) }
        let retention: Duration? = recordRetention == 0 ? nil : .seconds(recordRetention * 86_400)
        services.append(MaintenanceWorker(maintenance: StoreMaintenance(store: store, recordRetention: retention), logger: logger))
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            try? await engine.close()
            throw error
        }
        try await engine.close()  // every acknowledged write is committed before this returns
        logger.info("onced stopped")
    }

    /// The ready line (tests wait for it) and a curl for the seed page's example.
    static func announce(host: String, port: Int, example: (workspace: String, key: String)?) {
        let workspace = example?.workspace ?? "FY12345678"
        let key = example?.key ?? "<key from: onced keys create \(workspace)>"
        // Straight to the file descriptor: stdio would hold it back when stdout is a pipe.
        FileHandle.standardOutput.write(Data("""
            onced listening on http://\(host):\(port)
            try: curl -X POST http://\(host):\(port)/v1/\(workspace)/live/profiles/properties/set-once \\
              -H "Authorization: Bearer \(key)" -H "Content-Type: application/json" \\
              -d '{"$once": {"plan": "pro", "signup_date": "2020-10-01"}, "distinct_id": "XXXXXXXX"}'

            """.utf8))
    }
}

/// Reloads the rules when their files change and on SIGHUP, until shutdown.
/// Without rules it still traps SIGHUP, which would otherwise end the process.
struct RuleWatcher: Service {
    /// The live rules, and the shadow rules when there are any.
    let runtimes: [RuleRuntime]

    func run() async throws {
        let watchers = runtimes.map { $0.watch() }
        defer { for watcher in watchers { watcher.cancel() } }
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            for runtime in runtimes { runtime.reload() }
        }
    }
}

/// Deletes expired request records and reclaims dropped properties' rows until shutdown.
struct MaintenanceWorker: Service {
    let maintenance: StoreMaintenance
    let logger: Logger

    func run() async throws {
        let logger = logger
        await cancelWhenGracefulShutdown {
            await maintenance.run { logger.warning("store maintenance failed (tried again later): \($0)") }
        }
    }
}

/// Works the shadow rules' comparison queue until shutdown.
struct ShadowWorker: Service {
    let shadow: ShadowRules

    func run() async throws {
        await withGracefulShutdownHandler {
            await shadow.run()
        } onGracefulShutdown: {
            shadow.finish()
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
