import Logging
import Metrics
import OTel
import ServiceLifecycle
import Tracing
import WardenCore

/// The OpenTelemetry tracer `WardenConfiguration.tracing` asks for, and the background service that
/// ships its spans (none when tracing is off).
enum TracingBackend {
    static func make(_ configuration: WardenConfiguration, logger: Logger) throws -> (Telemetry, (any Service)?) {
        var otel = OTel.Configuration.default
        switch configuration.tracing {
        case .off: return (.off, nil)
        case .environment: break
        case .endpoint(let url): otel.traces.otlpExporter.endpoint = url
        }
        otel.serviceName = "warden"
        otel.resourceAttributes["service.version"] = WardenVersion.current
        otel.propagators = [.traceContext]
        otel.metrics.enabled = false
        otel.logs.enabled = false
        otel.traces.enabled = true
        otel.traces.exporter = .otlp
        otel.traces.otlpExporter.protocol = .httpProtobuf
        otel.traces.otlpExporter.timeout = configuration.traceExportTimeout
        otel.traces.batchSpanProcessor.exportTimeout = configuration.traceExportTimeout
        otel.traces.batchSpanProcessor.scheduleDelay = configuration.traceExportDelay
        // A decision makes three spans; at thousands of decisions a second the SDK's defaults (a queue
        // of 2,048, batches of 512) drop most of them. `OTEL_BSP_MAX_QUEUE_SIZE` and
        // `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` override.
        otel.traces.batchSpanProcessor.maxQueueSize = 16_384
        otel.traces.batchSpanProcessor.maxExportBatchSize = 4_096
        var diagnostics = logger
        diagnostics.handler = TraceExportWatch(inner: logger.handler)
        diagnostics[metadataKey: "component"] = "otel"
        otel.diagnosticLogger = .custom(diagnostics)
        otel.diagnosticLogLevel = .warning
        do {
            let (tracer, service) = try OTel.makeTracingBackend(configuration: otel)
            logger.info("tracing.enabled", metadata: ["exporter": "otlp/http"])
            return (Telemetry(tracer: tracer), service)
        } catch {
            throw WardenError(.invalidField, "cannot start OpenTelemetry tracing: \(error)")
        }
    }
}

/// Passes the OpenTelemetry SDK's own log lines on, counting the two that say spans were lost:
/// `warden_trace_export_failures_total` (a batch the collector did not take: refused, failed or
/// timed out; the SDK does not retry it) and `warden_trace_spans_dropped_total` (spans that found
/// the export queue full). The SDK reports both only in its log; these lines are its wording.
struct TraceExportWatch: LogHandler {
    var inner: any LogHandler
    private let failures = Counter(label: "warden_trace_export_failures_total")
    private let dropped = Counter(label: "warden_trace_spans_dropped_total")

    init(inner: any LogHandler) { self.inner = inner }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        switch event.message.description {
        case "Failed to export batch.":
            failures.increment()
        case "Spans were dropped this iteration because queue was full":
            if let count = event.metadata?["dropped_count"].flatMap({ Int("\($0)") }) { dropped.increment(by: count) }
        default:
            break
        }
        inner.log(event: event)
    }
}
