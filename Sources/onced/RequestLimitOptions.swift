import ArgumentParser
import OnceEngine

/// The per-request caps of ``RequestLimits``, for `serve` and `apply`.
struct RequestLimitOptions: ParsableArguments {
    @Option(help: "Most properties (or $unset names) under one op key; more is a 400.")
    var maxOpProperties = RequestLimits().propertiesPerOp

    @Option(help: "Most properties in one request (a batch body, a JSONL line); more is a 400.")
    var maxRequestProperties = RequestLimits().propertiesPerRequest

    func validate() throws {
        guard maxOpProperties > 0 else { throw ValidationError("--max-op-properties must be positive") }
        guard maxRequestProperties > 0 else { throw ValidationError("--max-request-properties must be positive") }
    }

    var limits: RequestLimits {
        RequestLimits(propertiesPerOp: maxOpProperties, propertiesPerRequest: maxRequestProperties)
    }
}
