import Dispatch
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Metrics
import Prometheus
import Synchronization
import Testing
import WardenCore
import WardenStore

@testable import WardenServer

@Suite struct HealthTests {
    @Test(arguments: Backend.available)
    func healthyDatabaseIs200(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let health = try await client.send(.get, "/healthz", token: nil)
            #expect(health.status == .ok)
            let body = try health.object()
            #expect(body["status"] as? String == "ok")
            #expect(body["database"] as? String == "ok")
            #expect(body["dialect"] as? String == backend.rawValue)
        }
    }

    @Test func unreachableDatabaseIs503() async throws {
        // A real SQLite store whose connection has been closed: every query fails, as when the disk is gone.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("warden-closed-\(UUID()).db").path
        let database = try await Database.open(.sqlite(path: path), logger: Logger(label: "test"))
        try await Migrator(database: database).up()
        await database.close()
        let store = SQLStore(database: database)
        let readiness = Readiness()
        readiness.markReady()
        let router = buildRouter(
            store: store, identity: IdentityService(store: store), services: try await .detached(store: store), dialect: .sqlite,
            readiness: readiness,
            registry: PrometheusCollectorRegistry()
        )
        try await Application(router: router).test(.router) { client in
            let health = try await client.send(.get, "/healthz", token: nil)
            #expect(health.status == .serviceUnavailable)
            #expect(try health.object()["database"] as? String == "unreachable")
            let ready = try await client.send(.get, "/readyz", token: nil)
            #expect(ready.status == .serviceUnavailable)
            // Authenticated calls fail cleanly too: a JSON 500 without driver details.
            let call = try await client.send(.get, "/v1/tenants")
            #expect(call.status == .internalServerError)
            #expect(try call.errorCode() == "internal_error")
            #expect(!call.text.lowercased().contains("sqlite"))
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    @Test func readyzWaitsForStartUp() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("warden-ready-\(UUID()).db").path
        let database = try await Database.open(.sqlite(path: path), logger: Logger(label: "test"))
        try await Migrator(database: database).up()
        let store = SQLStore(database: database)
        let readiness = Readiness()
        let router = buildRouter(
            store: store, identity: IdentityService(store: store), services: try await .detached(store: store), dialect: .sqlite,
            readiness: readiness,
            registry: PrometheusCollectorRegistry()
        )
        try await Application(router: router).test(.router) { client in
            let before = try await client.send(.get, "/readyz", token: nil).status
            #expect(before == .serviceUnavailable)
            readiness.markReady()
            let after = try await client.send(.get, "/readyz", token: nil).status
            #expect(after == .ok)
        }
        await database.close()
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// One registry for the process: swift-metrics can be bootstrapped only once.
enum SharedMetrics {
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// The value of the series `name{labels…}` (labels as they appear in the exposition, in any
    /// order; the first series containing them; `""` also matches the series of an unlabelled metric),
    /// or 0 when absent.
    static func value(of name: String, labels: String) -> Double {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        for line in String(decoding: buffer, as: UTF8.self).split(separator: "\n")
        where (line.hasPrefix(name + "{") && line.contains(labels)) || (labels.isEmpty && line.hasPrefix(name + " ")) {
            return Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return 0
    }
}

@Suite struct MetricsTests {
    @Test func requestMetricsCarryTheAnsweredStatus() async throws {
        let registry = SharedMetrics.registry
        try await TestApp.run(.sqlite, dependencies: ApplicationDependencies(registry: registry, announceGeneratedKey: { _ in })) { client in
            #expect(try await client.send(.post, "/v1/tenants", json: #"{"slug":"metrics-a"}"#).status == .created)
            #expect(try await client.send(.post, "/v1/tenants", json: #"{"slug":"metrics-a"}"#).status == .conflict)
            let metrics = try await client.send(.get, "/metrics", token: nil)
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            let lines = metrics.text.split(separator: "\n")
            #expect(lines.contains { $0.contains("hb_requests{") && $0.contains(#"http_route="/v1/tenants""#) && $0.contains(#"status_code="201""#) })
            #expect(lines.contains { $0.contains("hb_requests{") && $0.contains(#"http_route="/v1/tenants""#) && $0.contains(#"status_code="409""#) })
            #expect(lines.contains { $0.hasPrefix("http_server_request_duration_bucket") })
        }
    }
}

@Suite struct OpenAPITests {
    func document() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: OpenAPIDocument.data()) as? [String: Any])
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("warden-openapi-\(UUID()).db").path
        let database = try await Database.open(.sqlite(path: path), logger: Logger(label: "test"))
        let store = SQLStore(database: database)
        let router = buildRouter(
            store: store, identity: IdentityService(store: store), services: try await .detached(store: store), dialect: .sqlite,
            readiness: Readiness(), registry: PrometheusCollectorRegistry()
        )
        // The console's pages (`/console…`) are HTML for people, not API: not in the document.
        let served = Set(
            router.routes.filter { !$0.path.description.hasPrefix("/console") }.map { route in
                let path = route.path.description.split(separator: "/").map { part in
                    part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
                }.joined(separator: "/")
                return "\(route.method.rawValue.lowercased()) /\(path)"
            }
        )
        let paths = try #require(try document()["paths"] as? [String: [String: Any]])
        let methods: Set<String> = ["get", "post", "put", "patch", "delete"]
        let documented = Set(paths.flatMap { path, operations in operations.keys.filter(methods.contains).map { "\($0) \(path)" } })
        #expect(
            served == documented,
            "served but undocumented: \(served.subtracting(documented)); documented but not served: \(documented.subtracting(served))")
        await database.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    @Test func servedDocumentIsTheRepositoryFile() async throws {
        try await TestApp.run(.sqlite) { client in
            let response = try await client.send(.get, "/openapi.json", token: nil)
            #expect(response.status == .ok)
            let served = try #require(try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])
            #expect((served["openapi"] as? String)?.hasPrefix("3.") == true)
            let fileURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
                "../../Sources/WardenServer/Resources/openapi.json")
            #expect(try Data(contentsOf: fileURL) == Data(response.text.utf8))
        }
    }
}

@Suite struct BootstrapTests {
    @Test func generatedKeyIsAnnouncedOnceAndWorks() async throws {
        let url = "sqlite://" + FileManager.default.temporaryDirectory.appendingPathComponent("warden-boot-\(UUID()).db").path
        var configuration = WardenConfiguration()
        configuration.databaseURL = url
        let announced = Mutex<[String]>([])
        let dependencies = ApplicationDependencies(announceGeneratedKey: { secret in announced.withLock { $0.append(secret) } })
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let first = try await buildApplication(configuration, logger: logger, dependencies: dependencies)
        let secret = try #require(announced.withLock { $0.first })
        try await first.test(.router) { client in
            let status = try await client.send(.get, "/v1/tenants", token: secret).status
            #expect(status == .ok)
        }
        let second = try await buildApplication(configuration, logger: logger, dependencies: dependencies)
        try await second.test(.router) { _ in }
        #expect(announced.withLock { $0.count } == 1, "the key is generated and shown only on first start")
        if case .sqlite(let path) = try DatabaseLocation(parsing: url) { try? FileManager.default.removeItem(atPath: path) }
    }
}

@Suite struct ConfigurationTests {
    @Test func precedenceIsFlagsThenEnvironmentThenFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("warden-config-\(UUID()).json")
        try Data(#"{"host":"0.0.0.0","port":9000,"log_level":"debug","database_url":"sqlite:///tmp/file.db"}"#.utf8).write(to: file)
        let fromFile = try WardenConfiguration.load(configFile: file.path, environment: [:], overrides: .init())
        #expect(fromFile.host == "0.0.0.0" && fromFile.port == 9000 && fromFile.logLevel == .debug)
        #expect(fromFile.databaseURL == "sqlite:///tmp/file.db")
        let fromEnv = try WardenConfiguration.load(
            configFile: file.path, environment: ["WARDEN_PORT": "9100", "WARDEN_ADMIN_TOKEN": "t", "WARDEN_MIGRATE": "false"], overrides: .init()
        )
        #expect(fromEnv.port == 9100 && fromEnv.host == "0.0.0.0" && fromEnv.adminToken == "t" && !fromEnv.migrate)
        let fromFlags = try WardenConfiguration.load(configFile: file.path, environment: ["WARDEN_PORT": "9100"], overrides: .init(port: 9200))
        #expect(fromFlags.port == 9200)
        let defaults = try WardenConfiguration.load(configFile: nil, environment: [:], overrides: .init())
        #expect(defaults.host == "127.0.0.1" && defaults.port == 8080 && defaults.databaseURL == nil && defaults.migrate)
        try? FileManager.default.removeItem(at: file)
    }

    @Test(arguments: [
        ["WARDEN_PORT": "eighty"], ["WARDEN_PORT": "70000"], ["WARDEN_LOG_LEVEL": "loud"], ["WARDEN_DATABASE_URL": "mysql://x"],
        ["WARDEN_MIGRATE": "maybe"], ["WARDEN_WEBHOOK_MAX_ATTEMPTS": "0"], ["WARDEN_LEDGER_CHECKPOINT_SECONDS": "soon"],
        ["WARDEN_LEDGER_SIGNING_KEY": "bm90IGEga2V5"], ["WARDEN_APPROVAL_ESCALATION_SECONDS": "0.001"],
    ])
    func badSettingsAreRejectedClearly(_ environment: [String: String]) {
        #expect(throws: WardenError.self) { try WardenConfiguration.load(configFile: nil, environment: environment, overrides: .init()) }
    }

    @Test func numericSettingsNameTheirRange() throws {
        #expect(throws: WardenError(.invalidField, "WARDEN_WEBHOOK_BACKOFF_SECONDS must be a number of seconds from 0.01 to 3600")) {
            try WardenConfiguration.load(configFile: nil, environment: ["WARDEN_WEBHOOK_BACKOFF_SECONDS": "-1"], overrides: .init())
        }
        #expect(throws: WardenError(.invalidField, "WARDEN_LEDGER_CHECKPOINT_RECORDS must be a whole number from 1 to 10000000")) {
            try WardenConfiguration.load(configFile: nil, environment: ["WARDEN_LEDGER_CHECKPOINT_RECORDS": "1.5"], overrides: .init())
        }
        let set = try WardenConfiguration.load(
            configFile: nil, environment: ["WARDEN_WEBHOOK_MAX_ATTEMPTS": "3", "WARDEN_LEDGER_CHECKPOINT_SECONDS": "0.5"], overrides: .init())
        #expect(set.webhookRetry.maxAttempts == 3 && set.ledgerCheckpointInterval == 0.5)
    }

    @Test func unreadableConfigFileIsAClearError() {
        #expect(throws: WardenError(.invalidField, "cannot read config file /nonexistent/warden.json")) {
            try WardenConfiguration.load(configFile: "/nonexistent/warden.json", environment: [:], overrides: .init())
        }
    }
}

@Suite struct LoggingTests {
    @Test func linesAreJSONWithStableEventNames() throws {
        let lines = Mutex<[Data]>([])
        let sink = JSONLogHandler.Sink { data in lines.withLock { $0.append(data) } }
        var logger = Logger(label: "warden") { label in JSONLogHandler(label: label, level: .info, sink: sink) }
        logger[metadataKey: "request.id"] = "abc"
        logger.info("control_plane.startup", metadata: ["address": "127.0.0.1:8080", "nested": ["a": "b"]])
        logger.debug("not.logged")
        let captured = lines.withLock { $0 }
        #expect(captured.count == 1)
        let line = try #require(captured.first)
        #expect(line.last == UInt8(ascii: "\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
        #expect(object["event"] as? String == "control_plane.startup")
        #expect(object["level"] as? String == "info")
        #expect(object["address"] as? String == "127.0.0.1:8080")
        #expect(object["request.id"] as? String == "abc")
        #expect((object["nested"] as? [String: String]) == ["a": "b"])
        #expect((object["ts"] as? String)?.hasSuffix("Z") == true)
    }
}

/// A store whose database never answers.
struct HangingStore: Store {
    func read<Result: Sendable>(_ body: @escaping @Sendable (Repositories) async throws -> Result) async throws -> Result {
        try await Task.sleep(for: .seconds(30))
        throw WardenError(.databaseUnavailable, "hung")
    }
    func write<Result: Sendable>(_ body: @escaping @Sendable (Repositories) async throws -> Result) async throws -> Result {
        try await read(body)
    }
    func ping() async throws {
        // Ignores cancellation, as a driver stuck on a socket does (AsyncKit's pool waits on a future).
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().asyncAfter(deadline: .now() + 30) { continuation.resume() }
        }
    }
}

@Suite struct HungDatabaseTests {
    @Test func healthzGivesUpOnAHungDatabase() async throws {
        let store = HangingStore()
        let readiness = Readiness()
        readiness.markReady()
        let router = buildRouter(
            store: store, identity: IdentityService(store: store), services: try await .detached(store: store), dialect: .postgres,
            readiness: readiness,
            registry: PrometheusCollectorRegistry(), probeTimeout: .milliseconds(200)
        )
        try await Application(router: router).test(.router) { client in
            let start = ContinuousClock.now
            let health = try await client.send(.get, "/healthz", token: nil)
            let elapsed = ContinuousClock.now - start
            #expect(health.status == .serviceUnavailable)
            #expect(try health.object()["database"] as? String == "unreachable")
            // The probe must answer on its own timeout, not when the hung ping (30 s) ends.
            #expect(elapsed < .seconds(10), "answered after \(elapsed)")
        }
    }
}
