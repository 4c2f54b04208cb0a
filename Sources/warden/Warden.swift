import ArgumentParser
import Foundation

@main
struct Warden: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warden",
        abstract: "Warden: a governance control plane for AI agents.",
        version: "0.1.0",
        subcommands: [
            Serve.self, Migrate.self, Seed.self, Tenants.self, APIKeys.self, Agents.self, Tools.self, Kill.self, Restore.self, Decide.self,
            Decisions.self, Chaos.self, PolicyCommands.self, Bundles.self, Approvals.self,
            Webhooks.self, LoadTest.self, Runs.self, LedgerCommands.self, Keys.self, ProvenanceCommands.self, Limits.self, Panic.self,
            NotificationCommands.self,
        ]
    )

    /// Exit status: 0 success, 1 failure, 2 usage.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let exit as ExitCode where exit.rawValue > 2 {
            // Answers such as "deny" (3) and "require_approval" (4), after the answer was printed.
            Foundation.exit(exit.rawValue)
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            Foundation.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help and --version
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(code == .validationFailure ? 2 : code.rawValue == 1 ? 1 : 2)
        }
    }
}

/// A failure reported to the user as `error: <message>` with exit status 1.
struct CLIError: Error {
    var message: String
    /// The server's answer, when the error came from one.
    var failure: ClientOptions.Failure?
    init(_ message: String) { self.message = message }
}
