import AsyncHTTPClient
public import Foundation
import HTTPTypes
public import Hummingbird
public import Logging
import OTel
public import Prometheus
import ServiceLifecycle
import Tracing
public import WardenCore
public import WardenStore

/// Everything `buildApplication` needs besides configuration; tests replace the parts they observe.
public struct ApplicationDependencies: Sendable {
    public var registry: PrometheusCollectorRegistry
    public var clock: any WallClock
    /// Called once with a generated admin key on first start. Default: stderr, outside the log stream.
    public var announceGeneratedKey: @Sendable (String) -> Void

    public init(
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        clock: any WallClock = SystemClock(),
        announceGeneratedKey: @escaping @Sendable (String) -> Void = { secret in
            FileHandle.standardError.write(
                Data(
                    ("\nWarden generated a global admin API key. It is shown this once and stored only as a hash:\n\n    \(secret)\n\n"
                        + "Use it as WARDEN_TOKEN for the CLI, or set WARDEN_ADMIN_TOKEN before the first start to choose your own.\n\n").utf8
                )
            )
        }
    ) {
        self.registry = registry
        self.clock = clock
        self.announceGeneratedKey = announceGeneratedKey
    }
}

/// Builds the whole object graph from configuration: opens the database, applies migrations,
/// makes sure an admin can log in, and wires the router.
public func buildApplication(
    _ configuration: WardenConfiguration,
    logger: Logger,
    dependencies: ApplicationDependencies = ApplicationDependencies()
) async throws -> some ApplicationProtocol {
    let location = try DatabaseLocation(parsing: configuration.databaseURL)
    let database = try await Database.open(location, postgresPoolSize: configuration.databasePoolSize, logger: logger)
    do {
        let migrator = Migrator(database: database, clock: dependencies.clock)
        if configuration.migrate {
            let applied = try await migrator.up()
            if !applied.isEmpty {
                logger.info("database.migrated", metadata: ["migrations.applied": "\(applied.map(String.init).joined(separator: ","))"])
            }
        }
        let current = try await migrator.currentVersion()
        guard current == migrator.latestVersion else {
            throw StoreError(
                message: "database schema is at version \(current) but this binary needs \(migrator.latestVersion); run 'warden migrate up'"
            )
        }
        let store = SQLStore(database: database)
        let identity = IdentityService(store: store, clock: dependencies.clock)
        switch try await identity.bootstrap(adminToken: configuration.adminToken) {
        case .generated(let keyID, let secret):
            logger.notice("api_key.bootstrap_generated", metadata: ["api_key.id": "\(keyID.uuidString.lowercased())"])
            dependencies.announceGeneratedKey(secret)
        case .suppliedTokenInstalled(let keyID, let created):
            if created { logger.notice("api_key.bootstrap_installed", metadata: ["api_key.id": "\(keyID.uuidString.lowercased())"]) }
        case .alreadyBootstrapped:
            break
        }
        let snapshots = SnapshotStore(store: store)
        try await snapshots.preload()
        let authority = try await loadTokenAuthority(store: store, clock: dependencies.clock)
        let agents = AgentService(store: store, snapshots: snapshots, authority: authority, clock: dependencies.clock)
        try await agents.loadRevocations()
        let hub = EventHub()
        let decisionLog = GroupCommitDecisionLog(store: store, logger: logger)
        let opa = OPAClient(client: .shared, logger: logger)
        let signer = try await loadBundleSigner(store: store, configuration: configuration, clock: dependencies.clock)
        let bypass = PolicyBypass()
        let policySystem = PolicySystemService(store: store, bypass: bypass, clock: dependencies.clock, logger: logger)
        try await policySystem.load()
        if let state = bypass.current {
            logger.critical("policy.bypass_active", metadata: ["since": "\(Timestamp.format(state.since))", "actor": "\(state.by)"])
        }
        let secrets = try await loadWebhookSecrets(store: store, clock: dependencies.clock)
        let ledgerSigner = try await loadLedgerSigner(store: store, configuration: configuration, clock: dependencies.clock)
        let outbox = Doorbell()
        try await recordPauseGauges(store: store)
        let invoker = HTTPToolInvoker(client: .shared, secrets: secrets, clock: dependencies.clock)
        let (telemetry, tracing) = try TracingBackend.make(configuration, logger: logger)
        let decisions = DecisionService(
            snapshots: snapshots, log: decisionLog, clock: dependencies.clock, external: opa, bypass: bypass, secrets: secrets,
            telemetry: telemetry)
        try await decisions.seedSpend(store: store)
        let ledger = LedgerService(
            store: store, clock: dependencies.clock, signer: ledgerSigner, configuredKey: configuration.ledgerSigningKey != nil)
        let services = DecisionPathServices(
            snapshots: snapshots, agents: agents,
            tools: ToolService(store: store, snapshots: snapshots, hub: hub, clock: dependencies.clock, logger: logger, telemetry: telemetry),
            decisions: decisions, hub: hub, eventHeartbeat: configuration.eventHeartbeat,
            bundles: BundleService(
                store: store, snapshots: snapshots, hub: hub, clock: dependencies.clock, logger: logger,
                minimumStageTime: configuration.canaryMinimumStage,
                notifier: OutboxNotifier(store: store, clock: dependencies.clock, outbox: outbox, logger: logger), signer: signer),
            sandbox: PolicySandbox(store: store, snapshots: snapshots, clock: dependencies.clock, external: opa),
            policySystem: policySystem,
            approvals: ApprovalService(
                store: store, clock: dependencies.clock, escalateAfter: configuration.approvalEscalateAfter, secrets: secrets, outbox: outbox,
                telemetry: telemetry),
            webhooks: WebhookService(store: store, clock: dependencies.clock, secrets: secrets, outbox: outbox),
            runs: RunService(store: store, clock: dependencies.clock, secrets: secrets, snapshots: snapshots), ledger: ledger,
            guardrails: GuardrailService(
                store: store, snapshots: snapshots, hub: hub, clock: dependencies.clock,
                budgetSet: { tenantID in try await decisions.seedSpend(tenantID: tenantID, store: store) }),
            notifications: NotificationService(store: store, clock: dependencies.clock),
            provenance: ProvenanceService(store: store, clock: dependencies.clock, ledger: ledger),
            compensations: CompensationService(store: store, clock: dependencies.clock, invoker: invoker),
            replays: ReplayService(store: store, clock: dependencies.clock, decisions: decisions, invoker: invoker, secrets: secrets)
        )
        let readiness = Readiness()
        let router = buildRouter(
            store: store, identity: identity, services: services, dialect: database.dialect, readiness: readiness, registry: dependencies.registry,
            clock: dependencies.clock
        )
        var app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "warden"),
            onServerRunning: { channel in
                readiness.markReady()
                logger.info(
                    "control_plane.startup",
                    metadata: [
                        "address": "\(channel.localAddress?.description ?? "unknown")",
                        "database": "\(location)",
                        "schema_version": "\(current)",
                        "version": "\(WardenVersion.current)",
                    ]
                )
            },
            logger: logger
        )
        // Shut down in reverse order: the server drains first, then the decision log, then the database,
        // then the tracer, which ships what is left (bounded by its export timeout, collector up or not).
        if let tracing { app.addServices(tracing) }
        let link = ReplicaLink(database: database, snapshots: snapshots, agents: agents, logger: logger)
        link.announceChanges()
        app.addServices(link)
        app.addServices(
            DatabaseCloser(database: database, hub: hub, logger: logger), DecisionLogService(log: decisionLog),
            CanaryMonitorService(bundles: services.bundles, interval: configuration.canaryMonitorInterval),
            EscalationService(approvals: services.approvals, interval: configuration.approvalEscalationInterval, logger: logger),
            WebhookDeliveryService(
                store: store, client: .shared, secrets: secrets, outbox: outbox, clock: dependencies.clock, policy: configuration.webhookRetry,
                logger: logger),
            CheckpointService(
                ledger: services.ledger, records: configuration.ledgerCheckpointRecords, interval: configuration.ledgerCheckpointInterval,
                logger: logger))
        return app
    } catch {
        await database.close()
        throw error
    }
}

/// The router with every route Warden serves. Separate from `buildApplication` so tests can list its routes.
func buildRouter(
    store: any Store, identity: IdentityService, services: DecisionPathServices, dialect: Database.Dialect, readiness: Readiness,
    registry: PrometheusCollectorRegistry, probeTimeout: Duration = .seconds(2), clock: any WallClock = SystemClock()
) -> Router<WardenRequestContext> {
    let router = Router(context: WardenRequestContext.self)
    // Metrics outermost, so they record the status the error middleware chose, not a thrown error.
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: RequestTraceMiddleware(telemetry: services.decisions.telemetry))
    HealthController(store: store, dialect: dialect, readiness: readiness, registry: registry, probeTimeout: probeTimeout).addRoutes(to: router)
    ConsoleController(
        library: ConsoleController.templates, sessions: ConsoleSessionService(store: store, identity: identity, clock: clock), identity: identity,
        services: services, store: store, clock: clock
    ).addRoutes(to: router)
    let v1 = router.group("/v1").add(middleware: AuthMiddleware(identity: identity, agents: services.agents))
    let scope = TenantScope(snapshots: services.snapshots)
    TenantController(identity: identity, snapshots: services.snapshots).addRoutes(to: v1)
    APIKeyController(identity: identity, store: store).addRoutes(to: v1)
    AuditController(identity: identity, store: store).addRoutes(to: v1)
    AgentController(scope: scope, agents: services.agents).addRoutes(to: v1)
    ToolController(scope: scope, tools: services.tools).addRoutes(to: v1)
    BundleController(scope: scope, bundles: services.bundles, sandbox: services.sandbox).addRoutes(to: v1)
    IncidentController(scope: scope, bundles: services.bundles).addRoutes(to: v1)
    PolicySystemController(system: services.policySystem, bypass: services.decisions.bypass).addRoutes(to: v1)
    EventController(scope: scope, store: store, hub: services.hub, heartbeat: services.eventHeartbeat).addRoutes(to: v1)
    DecisionController(scope: scope, decisions: services.decisions, snapshots: services.snapshots, store: store, approvals: services.approvals)
        .addRoutes(to: v1)
    ApprovalController(scope: scope, approvals: services.approvals, snapshots: services.snapshots).addRoutes(to: v1)
    WebhookController(scope: scope, approvals: services.approvals, webhooks: services.webhooks, snapshots: services.snapshots)
        .addRoutes(to: v1)
    RunController(scope: scope, runs: services.runs, compensations: services.compensations, replays: services.replays).addRoutes(to: v1)
    LedgerController(scope: scope, ledger: services.ledger, store: store).addRoutes(to: v1)
    ProvenanceController(provenance: services.provenance).addRoutes(to: v1)
    GuardrailController(scope: scope, guardrails: services.guardrails).addRoutes(to: v1)
    NotificationController(scope: scope, notifications: services.notifications).addRoutes(to: v1)
    return router
}

/// The services of the hot path, built once in `buildApplication`.
struct DecisionPathServices: Sendable {
    var snapshots: SnapshotStore
    var agents: AgentService
    var tools: ToolService
    var decisions: DecisionService
    var hub: EventHub
    var eventHeartbeat: Duration
    var bundles: BundleService
    var sandbox: PolicySandbox
    var policySystem: PolicySystemService
    var approvals: ApprovalService
    var webhooks: WebhookService
    var runs: RunService
    var ledger: LedgerService
    var guardrails: GuardrailService
    var notifications: NotificationService
    var provenance: ProvenanceService
    var compensations: CompensationService
    var replays: ReplayService
}

extension DecisionPathServices {
    /// Services over `store` with a throwaway signing key and a decision log that nobody runs; for
    /// tests that only need the router's shape or its health endpoints.
    static func detached(store: any Store) async throws -> DecisionPathServices {
        let clock = SystemClock()
        let logger = Logger(label: "warden.detached")
        let snapshots = SnapshotStore(store: store)
        let authority = try await AgentTokenAuthority(keyID: "detached", privateKey: AgentTokenAuthority.generateKey())
        let hub = EventHub()
        let decisions = DecisionService(snapshots: snapshots, log: GroupCommitDecisionLog(store: store, logger: logger), clock: clock)
        let ledger = LedgerService(store: store)
        let invoker = HTTPToolInvoker(client: .shared, secrets: WebhookSecrets(master: []), clock: clock)
        return DecisionPathServices(
            snapshots: snapshots, agents: AgentService(store: store, snapshots: snapshots, authority: authority, clock: clock),
            tools: ToolService(store: store, snapshots: snapshots, hub: hub, clock: clock, logger: logger),
            decisions: decisions, hub: hub, eventHeartbeat: .seconds(15),
            bundles: BundleService(store: store, snapshots: snapshots, hub: hub, clock: clock, logger: logger),
            sandbox: PolicySandbox(store: store, snapshots: snapshots, clock: clock),
            policySystem: PolicySystemService(store: store, bypass: PolicyBypass(), clock: clock, logger: logger),
            approvals: ApprovalService(store: store, clock: clock),
            webhooks: WebhookService(store: store, clock: clock, secrets: WebhookSecrets(master: []), outbox: Doorbell()),
            runs: RunService(store: store, clock: clock, secrets: WebhookSecrets(master: []), snapshots: snapshots), ledger: ledger,
            guardrails: GuardrailService(store: store, snapshots: snapshots, hub: hub, clock: clock),
            notifications: NotificationService(store: store, clock: clock),
            provenance: ProvenanceService(store: store, clock: clock, ledger: ledger),
            compensations: CompensationService(store: store, clock: clock, invoker: invoker),
            replays: ReplayService(store: store, clock: clock, decisions: decisions, invoker: invoker, secrets: WebhookSecrets(master: []))
        )
    }
}

/// The key exports are signed with: the configured shared secret (HMAC-SHA256), or this deployment's
/// Ed25519 key, generated on first start and kept in the database like the agent-token key.
func loadBundleSigner(store: any Store, configuration: WardenConfiguration, clock: any WallClock) async throws -> BundleSigner {
    if let secret = configuration.bundleSigningSecret {
        return BundleSigner(key: .hmac(id: configuration.bundleSigningKeyID, secret: Array(secret.utf8)))
    }
    let generated = AgentTokenAuthority.generateKey()
    let keyID = "bundle-\(UUID().uuidString.lowercased().prefix(8))"
    let now = Timestamp.truncated(clock.now())
    let stored = try await store.write { repos in
        try await repos.signingKeys.insertIfAbsent(purpose: "bundle_export", id: keyID, key: generated, at: now)
    }
    return BundleSigner(key: .ed25519(id: stored.id, privateKey: stored.key))
}

/// The key webhook signing secrets are derived from: generated on first start and kept in the
/// database, so every replica and every restart signs alike.
func loadWebhookSecrets(store: any Store, clock: any WallClock) async throws -> WebhookSecrets {
    var generator = SystemRandomNumberGenerator()
    let generated = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    let keyID = "webhook-\(UUID().uuidString.lowercased().prefix(8))"
    let now = Timestamp.truncated(clock.now())
    let stored = try await store.write { repos in
        try await repos.signingKeys.insertIfAbsent(purpose: WebhookSecrets.keyPurpose, id: keyID, key: generated, at: now)
    }
    return WebhookSecrets(master: stored.key)
}

/// The key ledger checkpoints are signed with: the configured one, or this deployment's own Ed25519
/// key, generated on first start and kept in the database.
func loadLedgerSigner(store: any Store, configuration: WardenConfiguration, clock: any WallClock) async throws -> LedgerSigner {
    if let key = configuration.ledgerSigningKey { return try LedgerSigner(keyID: configuration.ledgerSigningKeyID, privateKey: key) }
    let generated = AgentTokenAuthority.generateKey()
    let keyID = "ledger-\(UUID().uuidString.lowercased().prefix(8))"
    let now = Timestamp.truncated(clock.now())
    let stored = try await store.write { repos in
        try await repos.signingKeys.insertIfAbsent(purpose: LedgerSigner.keyPurpose, id: keyID, key: generated, at: now)
    }
    return try LedgerSigner(keyID: stored.id, privateKey: stored.key)
}

/// Sets each tenant's pause gauges at start, so paused escalation or webhooks show after a restart.
func recordPauseGauges(store: any Store) async throws {
    var page = PageRequest(limit: PageRequest.maximumLimit)
    while true {
        let result = try await store.read { [page] in try await $0.tenants.list(page) }
        for tenant in result.items { ApprovalService.recordPaused(tenant) }
        guard let next = result.nextCursor else { return }
        page.after = try Cursor.decode(next)
    }
}

/// The agent-token signing key: generated on first start and kept in the database, so every
/// replica and every restart verifies the same tokens.
func loadTokenAuthority(store: any Store, clock: any WallClock) async throws -> AgentTokenAuthority {
    let generated = AgentTokenAuthority.generateKey()
    let keyID = "agent-\(UUID().uuidString.lowercased().prefix(8))"
    let now = Timestamp.truncated(clock.now())
    let stored = try await store.write { repos in
        try await repos.signingKeys.insertIfAbsent(purpose: AgentTokenAuthority.keyPurpose, id: keyID, key: generated, at: now)
    }
    return try await AgentTokenAuthority(keyID: stored.id, privateKey: stored.key)
}

/// Runs the decision log writer; on shutdown it stops taking records and writes what it holds.
struct DecisionLogService: Service {
    let log: GroupCommitDecisionLog

    func run() async throws {
        await withGracefulShutdownHandler {
            await log.run()
        } onGracefulShutdown: {
            log.close()
        }
    }
}

/// Closes the database once the server has stopped taking requests and the decision log is written.
struct DatabaseCloser: Service {
    let database: Database
    let hub: EventHub
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        hub.close()
        await database.close()
        logger.info("control_plane.shutdown")
    }
}

/// Traces and logs each request. With tracing on, the request runs inside a server span (a child of
/// its W3C `traceparent`, if any); either way the trace id goes on every line logged for the request
/// (`trace_id`) and on the context for decisions to store. Logs `http.request` at debug level
/// (method, path, status, duration).
struct RequestTraceMiddleware: RouterMiddleware {
    typealias Context = WardenRequestContext
    let telemetry: Telemetry
    static let untraced: Set<String> = ["/healthz", "/readyz", "/metrics"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Probes and scrapes are not traced: a balancer's health checks would flood the collector.
        guard telemetry.enabled, !Self.untraced.contains(request.uri.path) else {
            var context = context
            context.traceID = DecisionController.traceID(request.headers[HTTPField.Name("traceparent")!])
            return try await logged(request, context: context, next: next)
        }
        var parent = ServiceContext.current ?? .topLevel
        telemetry.tracer.extract(request.headers, into: &parent, using: HeaderExtractor())
        return try await telemetry.span("HTTP \(request.method.rawValue)", kind: .server, context: parent) { span in
            span.attributes["http.request.method"] = request.method.rawValue
            span.attributes["url.path"] = request.uri.path
            var context = context
            context.traceID = span.context.otelTraceID
            do {
                let response = try await logged(request, context: context, next: next)
                if let route = context.endpointPath {
                    span.operationName = "\(request.method.rawValue) \(route)"
                    span.attributes["http.route"] = route
                }
                span.attributes["http.response.status_code"] = Int(response.status.code)
                if response.status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
                return response
            } catch {
                if let route = context.endpointPath { span.operationName = "\(request.method.rawValue) \(route)" }
                let status = (error as? any HTTPResponseError)?.status.code ?? 500
                span.attributes["http.response.status_code"] = Int(status)
                throw error
            }
        }
    }

    private func logged(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let traceID = context.traceID { context.logger[metadataKey: "trace_id"] = "\(traceID)" }
        guard context.logger.logLevel <= .debug else { return try await next(request, context) }
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        context.logger.debug(
            "http.request",
            metadata: [
                "http.method": "\(request.method)", "http.path": "\(request.uri.path)", "http.status": "\(response.status.code)",
                "duration_ms": "\(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)",
            ]
        )
        return response
    }
}

/// Reads propagation headers (`traceparent`, `tracestate`) for the tracer.
struct HeaderExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        guard let name = HTTPField.Name(key) else { return nil }
        return carrier[name]
    }
}
