public import Tracing

/// Where Warden's spans go: an OpenTelemetry tracer when tracing is on (`OTEL_EXPORTER_OTLP_ENDPOINT`),
/// otherwise nowhere, at the cost of one comparison per span.
///
/// Spans: `warden.decide` and its child `warden.policy.evaluate`, `warden.approval.create`,
/// `warden.approval.vote`, `warden.tool.kill` and `warden.tool.restore`, each under the request's
/// server span. Recording a span never waits on the exporter: finished spans go to a bounded queue
/// that a background task ships (and drops from when full).
public struct Telemetry: Sendable {
    public let tracer: any LegacyTracer
    public let enabled: Bool

    public init(tracer: any LegacyTracer) {
        self.tracer = tracer
        self.enabled = !(tracer is NoOpTracer)
    }

    public static let off = Telemetry(tracer: NoOpTracer())

    /// Runs `body` inside a span named `name` (a child of the task's current span, or of `context`
    /// when given); an error thrown by `body` marks the span failed and is rethrown.
    public func span<T>(
        _ name: String, kind: SpanKind = .internal, context: ServiceContext? = nil, _ body: (any Span) async throws -> T
    ) async rethrows -> T {
        guard enabled else { return try await body(Self.idle) }
        let span = tracer.startAnySpan(name, context: context ?? .current ?? .topLevel, ofKind: kind)
        defer { span.end() }
        do {
            return try await ServiceContext.$current.withValue(span.context) { try await body(span) }
        } catch {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error))
            throw error
        }
    }

    private static let idle = NoOpTracer.NoOpSpan(context: .topLevel)
}
