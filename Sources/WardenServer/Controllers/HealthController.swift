public import Foundation
import Hummingbird
import Logging
import Prometheus
import Synchronization
import WardenCore
import WardenStore

/// Probes, metrics and the API description. These are public: load balancers, orchestrators and
/// Prometheus call them without credentials, and they reveal no tenant data.
struct HealthController {
    let store: any Store
    let dialect: Database.Dialect
    let readiness: Readiness
    let registry: PrometheusCollectorRegistry
    /// How long a probe waits for the database before answering 503.
    let probeTimeout: Duration

    struct Health: Encodable {
        var status: String
        var database: String
        var dialect: String
        var version: String
    }

    func addRoutes(to router: Router<WardenRequestContext>) {
        router.get("/healthz", use: health)
        router.get("/readyz", use: ready)
        router.get("/metrics", use: metrics)
        router.get("/openapi.json", use: openAPI)
    }

    @Sendable func health(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let reachable = await databaseReachable(context: context)
        let body = Health(
            status: reachable ? "ok" : "degraded", database: reachable ? "ok" : "unreachable", dialect: dialect.rawValue,
            version: WardenVersion.current)
        return JSONBody.response(status: reachable ? .ok : .serviceUnavailable, body)
    }

    @Sendable func ready(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let started = readiness.isReady
        let reachable = started ? await databaseReachable(context: context) : false
        let status = started && reachable ? "ready" : (started ? "database_unreachable" : "starting")
        return JSONBody.response(status: started && reachable ? .ok : .serviceUnavailable, ["status": status])
    }

    @Sendable func metrics(_ request: Request, context: WardenRequestContext) async throws -> Response {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8192)
        registry.emit(into: &buffer)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }

    @Sendable func openAPI(_ request: Request, context: WardenRequestContext) async throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try OpenAPIDocument.data())))
    }

    /// Pings the database, answering `false` after `probeTimeout` so a hung database cannot hang the
    /// probe. A task group would wait for the hung ping before returning, so the ping and the timer
    /// race in unstructured tasks and the first to finish answers; a slow ping ends on its own later.
    private func databaseReachable(context: WardenRequestContext) async -> Bool {
        let store = self.store
        let timeout = probeTimeout
        let reachable = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let answer = FirstAnswer(continuation)
            let timer = Task {
                try? await Task.sleep(for: timeout)
                answer.resume(false)
            }
            Task {
                let ok = (try? await store.ping()) != nil
                answer.resume(ok)
                timer.cancel()
            }
        }
        if !reachable { context.logger.warning("health.database_unreachable") }
        return reachable
    }
}

/// Resumes a continuation with the first answer given; later answers are ignored.
final class FirstAnswer: Sendable {
    private let continuation: Mutex<CheckedContinuation<Bool, Never>?>

    init(_ continuation: CheckedContinuation<Bool, Never>) {
        self.continuation = Mutex(continuation)
    }

    func resume(_ value: Bool) {
        continuation.withLock { $0.take() }?.resume(returning: value)
    }
}

/// Whether start-up (migrations, bootstrap) has finished and the server is serving.
final class Readiness: Sendable {
    private let ready = Atomic<Bool>(false)
    var isReady: Bool { ready.load(ordering: .acquiring) }
    func markReady() { ready.store(true, ordering: .releasing) }
}

public enum WardenVersion {
    public static let current = "0.1.0"
}

/// The OpenAPI document shipped in the package's resources.
public enum OpenAPIDocument {
    public static func data() throws -> Data {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json") else {
            throw WardenError(.internalError, "openapi.json is missing from the build")
        }
        return try Data(contentsOf: url)
    }
}
