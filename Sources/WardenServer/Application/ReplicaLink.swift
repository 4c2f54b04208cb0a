import Foundation
import Logging
import ServiceLifecycle
import WardenCore
import WardenStore

/// Keeps replicas on one PostgreSQL database in step. A change applied on this replica (a tool killed
/// or restored, panic, limits, a bundle moved, a run cancelled, an agent changed, a token revoked) is
/// announced with `NOTIFY` once committed; every replica `LISTEN`s and reloads what changed from the
/// database. Whenever it starts listening (at start, and after a lost connection) it reloads every
/// tenant, since announcements made before were missed. Nothing to do on SQLite: one process owns the file.
struct ReplicaLink: Service {
    let database: Database
    let snapshots: SnapshotStore
    let agents: AgentService
    let logger: Logger
    /// Tells this replica's own announcements from the others'.
    let replica = UUID().uuidString.lowercased()

    /// Starts announcing this replica's changes.
    func announceChanges() {
        guard database.dialect == .postgres else { return }
        let database = self.database
        let channel = database.changeChannel
        let replica = self.replica
        let logger = self.logger
        snapshots.onChange { change in
            let payload: String
            switch change {
            case .tenant(let id): payload = "\(replica) tenant \(id.uuidString.lowercased())"
            case .revocations: payload = "\(replica) revocations"
            }
            Task {
                do {
                    try await database.notify(channel: channel, payload: payload)
                } catch {
                    logger.warning("replica.notify_failed", metadata: ["error": "\(StoreError.describe(error))"])
                }
            }
        }
    }

    func run() async throws {
        // A service that returns stops the whole server: on SQLite, just wait for shutdown.
        guard database.dialect == .postgres else {
            try? await gracefulShutdown()
            return
        }
        while !(Task.isCancelled || Task.isShuttingDownGracefully) {
            do {
                try await cancelWhenGracefulShutdown {
                    try await database.listen(
                        channel: database.changeChannel,
                        ready: {
                            logger.debug("replica.listening", metadata: ["channel": "\(database.changeChannel)"])
                            // Announcements made before listening began (since start, or while the
                            // link was down) were missed: reload everything once.
                            try? await snapshots.preload()
                            try? await agents.loadRevocations()
                        }
                    ) { payload in await receive(payload) }
                }
            } catch is CancellationError {
                return
            } catch {
                guard !(Task.isCancelled || Task.isShuttingDownGracefully) else { return }
                logger.warning("replica.link_lost", metadata: ["error": "\(StoreError.describe(error))"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    func receive(_ payload: String) async {
        let parts = payload.split(separator: " ")
        guard parts.count >= 2, parts[0] != replica else { return }
        switch parts[1] {
        case "tenant":
            guard parts.count == 3, let id = UUID(uuidString: String(parts[2])) else { return }
            do {
                try await snapshots.refresh(tenantID: id)
            } catch {
                logger.warning("replica.reload_failed", metadata: ["tenant.id": "\(id.uuidString.lowercased())", "error": "\(error)"])
            }
        case "revocations":
            do { try await agents.loadRevocations() } catch { logger.warning("replica.reload_failed", metadata: ["error": "\(error)"]) }
        default:
            return
        }
    }
}
