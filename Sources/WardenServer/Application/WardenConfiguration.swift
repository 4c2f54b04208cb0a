public import Foundation
public import Logging
public import WardenCore
import WardenStore

/// Server settings. Precedence, highest first: command-line flags, `WARDEN_*` environment
/// variables, the `--config` JSON file, defaults.
public struct WardenConfiguration: Sendable, Equatable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// `nil` means the embedded SQLite file `./warden.db`.
    public var databaseURL: String?
    /// A global admin key to install at start (`WARDEN_ADMIN_TOKEN`). Environment only: a secret
    /// on the command line shows in `ps`, and in a config file it tends to get committed.
    public var adminToken: String?
    public var logLevel: Logger.Level = .info
    /// Apply pending migrations at start.
    public var migrate: Bool = true
    /// How often an idle event stream sends a heartbeat comment (`WARDEN_EVENT_HEARTBEAT_SECONDS`).
    public var eventHeartbeat: Duration = .seconds(15)
    /// How long a bundle stays in a canary stage before an unforced promotion (`WARDEN_CANARY_MIN_STAGE_SECONDS`).
    public var canaryMinimumStage: TimeInterval = 86_400
    /// How often the canary monitor measures running canaries and rolls back bad ones (`WARDEN_CANARY_MONITOR_SECONDS`).
    public var canaryMonitorInterval: Duration = .seconds(30)
    /// How often the escalation service runs (`WARDEN_APPROVAL_ESCALATION_SECONDS`), and how long a request
    /// waits at each escalation step when its tenant gives no timeout (`WARDEN_APPROVAL_ESCALATE_AFTER_SECONDS`).
    public var approvalEscalationInterval: Duration = .seconds(60)
    public var approvalEscalateAfter: TimeInterval = 900
    /// Webhook retries: attempts before a delivery is dead-lettered (`WARDEN_WEBHOOK_MAX_ATTEMPTS`) and
    /// the first pause, doubled each time (`WARDEN_WEBHOOK_BACKOFF_SECONDS`).
    public var webhookRetry = WebhookRetryPolicy()
    /// Ledger checkpoints: a tenant's chain head is signed after this many new entries
    /// (`WARDEN_LEDGER_CHECKPOINT_RECORDS`) or, with any new entry, this often (`WARDEN_LEDGER_CHECKPOINT_SECONDS`).
    public var ledgerCheckpointRecords: Int64 = 10_000
    public var ledgerCheckpointInterval: TimeInterval = 60
    /// The Ed25519 key checkpoints are signed with (`WARDEN_LEDGER_SIGNING_KEY`, base64 of the raw
    /// 32-byte private key) and its id (`WARDEN_LEDGER_SIGNING_KEY_ID`). Without it, a key generated on
    /// first start and kept in the database. Never logged.
    public var ledgerSigningKey: [UInt8]?
    public var ledgerSigningKeyID: String = "ledger-1"
    /// A secret shared between environments that exchange bundles (`WARDEN_BUNDLE_SIGNING_SECRET`, at
    /// least 32 bytes) and its key id (`WARDEN_BUNDLE_SIGNING_KEY_ID`): exports are signed with
    /// HMAC-SHA256. Without it, with this deployment's own Ed25519 key. Never logged.
    public var bundleSigningSecret: String?
    public var bundleSigningKeyID: String = "hmac-1"
    /// OpenTelemetry traces over OTLP/HTTP (protobuf). On when `OTEL_EXPORTER_OTLP_ENDPOINT` (the
    /// collector's base address; `/v1/traces` is added) or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the
    /// whole address) is set; the other `OTEL_*` variables (headers, timeout, sampler, service
    /// name) apply as the OpenTelemetry specification says.
    public var tracing: TraceExport = .off
    /// The most PostgreSQL connections this replica opens (`WARDEN_DATABASE_POOL_SIZE`, 1 to 1000;
    /// default 4 per core). Rounded up to a multiple of the core count. Not used with SQLite.
    public var databasePoolSize: Int?
    /// How long one export of spans may take before it is abandoned (`OTEL_EXPORTER_OTLP_TIMEOUT`
    /// overrides). Exports run in the background; this bounds shutdown with the collector down.
    public var traceExportTimeout: Duration = .seconds(5)
    /// How long finished spans wait to be shipped together (`OTEL_BSP_SCHEDULE_DELAY` overrides).
    public var traceExportDelay: Duration = .seconds(1)

    public enum TraceExport: Sendable, Equatable {
        case off
        /// The collector the `OTEL_*` environment names.
        case environment
        /// This exact OTLP/HTTP traces address (tests, and the CLI's own settings).
        case endpoint(String)
    }

    public init() {}

    /// What a `--config` file may hold.
    struct File: Decodable {
        var host: String?
        var port: Int?
        var databaseURL: String?
        var logLevel: String?
        var migrate: Bool?

        enum CodingKeys: String, CodingKey {
            case host, port, migrate
            case databaseURL = "database_url"
            case logLevel = "log_level"
        }
    }

    /// Flags given on the command line; `nil` when not given.
    public struct Overrides: Sendable {
        public var host: String?
        public var port: Int?
        public var databaseURL: String?
        public var logLevel: String?
        public var migrate: Bool?

        public init(host: String? = nil, port: Int? = nil, databaseURL: String? = nil, logLevel: String? = nil, migrate: Bool? = nil) {
            self.host = host
            self.port = port
            self.databaseURL = databaseURL
            self.logLevel = logLevel
            self.migrate = migrate
        }
    }

    public static func load(
        configFile: String?,
        environment: [String: String],
        overrides: Overrides
    ) throws(WardenError) -> WardenConfiguration {
        var configuration = WardenConfiguration()
        if let configFile {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: configFile))
            } catch {
                throw WardenError(.invalidField, "cannot read config file \(configFile)")
            }
            let file: File
            do {
                file = try JSONDecoder().decode(File.self, from: data)
            } catch {
                throw WardenError(.invalidField, "config file \(configFile) is not valid: \(error)")
            }
            try configuration.apply(
                host: file.host, port: file.port, databaseURL: file.databaseURL, logLevel: file.logLevel, migrate: file.migrate, source: configFile)
        }
        let port: Int?
        if let text = environment["WARDEN_PORT"] {
            guard let value = Int(text) else { throw WardenError(.invalidField, "WARDEN_PORT must be a number") }
            port = value
        } else {
            port = nil
        }
        var migrate: Bool?
        if let text = environment["WARDEN_MIGRATE"] {
            switch text.lowercased() {
            case "1", "true", "yes": migrate = true
            case "0", "false", "no": migrate = false
            default: throw WardenError(.invalidField, "WARDEN_MIGRATE must be true or false")
            }
        }
        try configuration.apply(
            host: environment["WARDEN_HOST"], port: port, databaseURL: environment["WARDEN_DATABASE_URL"],
            logLevel: environment["WARDEN_LOG_LEVEL"], migrate: migrate, source: "environment"
        )
        if let token = environment["WARDEN_ADMIN_TOKEN"], !token.isEmpty { configuration.adminToken = token }
        if let seconds = try Self.seconds(environment, "WARDEN_EVENT_HEARTBEAT_SECONDS", in: 0.05...3600) {
            configuration.eventHeartbeat = .milliseconds(Int64(seconds * 1000))
        }
        if let seconds = try Self.seconds(environment, "WARDEN_CANARY_MIN_STAGE_SECONDS", in: 0...30 * 86_400) {
            configuration.canaryMinimumStage = seconds
        }
        if let secret = environment["WARDEN_BUNDLE_SIGNING_SECRET"], !secret.isEmpty {
            guard secret.utf8.count >= 32 else { throw WardenError(.invalidField, "WARDEN_BUNDLE_SIGNING_SECRET must be at least 32 bytes") }
            configuration.bundleSigningSecret = secret
        }
        if let keyID = environment["WARDEN_BUNDLE_SIGNING_KEY_ID"], !keyID.isEmpty {
            try Tool.validate(text: keyID, field: "WARDEN_BUNDLE_SIGNING_KEY_ID", max: 100)
            configuration.bundleSigningKeyID = keyID
        }
        if let seconds = try Self.seconds(environment, "WARDEN_APPROVAL_ESCALATION_SECONDS", in: 0.05...3600) {
            configuration.approvalEscalationInterval = .milliseconds(Int64(seconds * 1000))
        }
        if let seconds = try Self.seconds(environment, "WARDEN_APPROVAL_ESCALATE_AFTER_SECONDS", in: 1...30 * 86_400) {
            configuration.approvalEscalateAfter = seconds
        }
        if let value = try Self.wholeNumber(environment, "WARDEN_WEBHOOK_MAX_ATTEMPTS", in: 1...50) {
            configuration.webhookRetry.maxAttempts = Int(value)
        }
        if let seconds = try Self.seconds(environment, "WARDEN_WEBHOOK_BACKOFF_SECONDS", in: 0.01...3600) {
            configuration.webhookRetry.baseDelay = seconds
        }
        if let value = try Self.wholeNumber(environment, "WARDEN_LEDGER_CHECKPOINT_RECORDS", in: 1...10_000_000) {
            configuration.ledgerCheckpointRecords = value
        }
        if let seconds = try Self.seconds(environment, "WARDEN_LEDGER_CHECKPOINT_SECONDS", in: 0.05...86_400) {
            configuration.ledgerCheckpointInterval = seconds
        }
        if let text = environment["WARDEN_LEDGER_SIGNING_KEY"], !text.isEmpty {
            guard let key = Data(base64Encoded: text), key.count == 32 else {
                throw WardenError(.invalidField, "WARDEN_LEDGER_SIGNING_KEY must be base64 of a raw 32-byte Ed25519 private key")
            }
            configuration.ledgerSigningKey = Array(key)
        }
        if let keyID = environment["WARDEN_LEDGER_SIGNING_KEY_ID"], !keyID.isEmpty {
            try Tool.validate(text: keyID, field: "WARDEN_LEDGER_SIGNING_KEY_ID", max: 100)
            configuration.ledgerSigningKeyID = keyID
        }
        if let seconds = try Self.seconds(environment, "WARDEN_CANARY_MONITOR_SECONDS", in: 0.05...3600) {
            configuration.canaryMonitorInterval = .milliseconds(Int64(seconds * 1000))
        }
        if let value = try Self.wholeNumber(environment, "WARDEN_DATABASE_POOL_SIZE", in: 1...1000) {
            configuration.databasePoolSize = Int(value)
        }
        for name in ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] {
            guard let text = environment[name], !text.isEmpty else { continue }
            guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
                throw WardenError(.invalidField, "\(name) must be an http:// or https:// address of an OTLP collector")
            }
            configuration.tracing = .environment
        }
        try configuration.apply(
            host: overrides.host, port: overrides.port, databaseURL: overrides.databaseURL, logLevel: overrides.logLevel,
            migrate: overrides.migrate, source: "command line"
        )
        return configuration
    }

    /// The variable as a number of seconds within `range`, if it is set.
    static func seconds(_ environment: [String: String], _ name: String, in range: ClosedRange<Double>) throws(WardenError) -> Double? {
        guard let text = environment[name] else { return nil }
        guard let value = Double(text), range.contains(value) else {
            throw WardenError(
                .invalidField, "\(name) must be a number of seconds from \(Self.plain(range.lowerBound)) to \(Self.plain(range.upperBound))")
        }
        return value
    }

    /// The variable as a whole number within `range`, if it is set.
    static func wholeNumber(_ environment: [String: String], _ name: String, in range: ClosedRange<Int64>) throws(WardenError) -> Int64? {
        guard let text = environment[name] else { return nil }
        guard let value = Int64(text), range.contains(value) else {
            throw WardenError(.invalidField, "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// 0.05, 60, 2592000: a bound as people write it.
    static func plain(_ value: Double) -> String { value.rounded() == value ? String(Int64(value)) : String(value) }

    private mutating func apply(
        host: String?, port: Int?, databaseURL: String?, logLevel: String?, migrate: Bool?, source: String
    ) throws(WardenError) {
        if let host { self.host = host }
        if let port {
            guard (0...65535).contains(port) else { throw WardenError(.invalidField, "port from \(source) must be 0 to 65535") }
            self.port = port
        }
        if let databaseURL, !databaseURL.isEmpty {
            _ = try DatabaseLocation(parsing: databaseURL)
            self.databaseURL = databaseURL
        }
        if let logLevel {
            guard let level = Logger.Level(rawValue: logLevel.lowercased()) else {
                throw WardenError(.invalidField, "log level from \(source) must be one of trace, debug, info, notice, warning, error, critical")
            }
            self.logLevel = level
        }
        if let migrate { self.migrate = migrate }
    }
}
