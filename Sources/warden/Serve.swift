import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import WardenCore
import WardenServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the Warden server.",
        discussion: """
            Settings come from flags, then WARDEN_* environment variables (WARDEN_HOST, WARDEN_PORT, \
            WARDEN_DATABASE_URL, WARDEN_LOG_LEVEL, WARDEN_MIGRATE, WARDEN_ADMIN_TOKEN), then the --config \
            JSON file. With no database URL Warden uses the SQLite file ./warden.db.
            """
    )

    @OptionGroup var options: ServerOptions

    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (default 8080).") var port: Int?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String?
    @Flag(help: "Do not apply pending migrations at start.") var noMigrate = false

    func run() async throws {
        let configuration = try options.load(
            overrides: .init(host: host, port: port, databaseURL: options.databaseURL, logLevel: logLevel, migrate: noMigrate ? false : nil)
        )
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var logger = Logger(label: "warden")
        logger.logLevel = level
        let app: any ApplicationProtocol
        do {
            app = try await buildApplication(configuration, logger: logger, dependencies: .init(registry: registry))
        } catch {
            logger.critical("control_plane.startup_failed", metadata: ["error": "\(error)"])
            throw CLIError("cannot start: \(error)")
        }
        try await app.runService()
    }
}

/// Options shared by commands that open the database or read configuration.
struct ServerOptions: ParsableArguments {
    @Option(help: "Database URL: sqlite:///path.db or postgres://user:pass@host:port/db (env WARDEN_DATABASE_URL).")
    var databaseURL: String?
    @Option(help: "A JSON configuration file.") var config: String?

    func load(overrides: WardenConfiguration.Overrides) throws -> WardenConfiguration {
        do {
            return try WardenConfiguration.load(configFile: config, environment: ProcessInfo.processInfo.environment, overrides: overrides)
        } catch {
            throw CLIError(error.message)
        }
    }
}
