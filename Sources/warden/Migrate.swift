import ArgumentParser
import Foundation
import Logging
import WardenCore
import WardenServer
import WardenStore

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply, revert and inspect database migrations.",
        subcommands: [Up.self, Down.self, Current.self, Status.self]
    )

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending migrations (all, or up to a version).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Stop at this version.") var version: Int?

        func run() async throws {
            try await withMigrator(options) { migrator in
                let applied = try await migrator.up(to: version)
                print(
                    applied.isEmpty
                        ? "nothing to apply; at version \(try await migrator.currentVersion())"
                        : "applied: \(applied.map(String.init).joined(separator: ", "))")
            }
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revert the newest N migrations (default 1).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "How many migrations to revert.") var steps: Int = 1

        func validate() throws {
            guard steps >= 1 else { throw ValidationError("steps must be at least 1") }
        }

        func run() async throws {
            try await withMigrator(options) { migrator in
                let reverted = try await migrator.down(steps: steps)
                print(reverted.isEmpty ? "nothing to revert" : "reverted: \(reverted.map(String.init).joined(separator: ", "))")
            }
        }
    }

    struct Current: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the applied schema version.")
        @OptionGroup var options: ServerOptions

        func run() async throws {
            try await withMigrator(options) { migrator in print(try await migrator.currentVersion()) }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every migration and whether it is applied.")
        @OptionGroup var options: ServerOptions

        func run() async throws {
            try await withMigrator(options) { migrator in
                let rows = try await migrator.status().map { [String($0.version), $0.name, $0.appliedAt ?? "pending"] }
                print(Table.render(headers: ["VERSION", "NAME", "APPLIED AT"], rows: rows), terminator: "")
            }
        }
    }
}

private func withMigrator(_ options: ServerOptions, _ body: (Migrator) async throws -> Void) async throws {
    let configuration = try options.load(overrides: .init(databaseURL: options.databaseURL))
    var logger = Logger(label: "warden.migrate")
    logger.logLevel = .warning
    let database: Database
    do {
        database = try await Database.open(try DatabaseLocation(parsing: configuration.databaseURL), logger: logger)
    } catch {
        throw CLIError("\(error)")
    }
    do {
        try await body(Migrator(database: database))
        await database.close()
    } catch {
        await database.close()
        throw CLIError("\(error)")
    }
}
