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

    /// Pings the database, giving up after two seconds so a hung database cannot hang the probe.
    private func databaseReachable(context: WardenRequestContext) async -> Bool {
        let store = self.store
        let reachable = await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await store.ping()) != nil }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if !reachable { context.logger.warning("health.database_unreachable") }
        return reachable
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
