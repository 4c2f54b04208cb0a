public import SQLKit

/// One numbered, reversible schema change. `up` and `down` run inside a transaction.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    let up: @Sendable (any SQLDatabase) async throws -> Void
    let down: @Sendable (any SQLDatabase) async throws -> Void

    init(
        version: Int,
        name: String,
        up: @escaping @Sendable (any SQLDatabase) async throws -> Void,
        down: @escaping @Sendable (any SQLDatabase) async throws -> Void
    ) {
        self.version = version
        self.name = name
        self.up = up
        self.down = down
    }
}

extension Migration {
    /// Every migration, in order. Append only: never edit one that has shipped.
    public static let all: [Migration] = [
        .identity,
        .decisionPath,
        .bundles,
        .rollout,
        .incidents,
        .systemSettings,
        .rolloutSettings,
        .approvals,
        .manualApproval,
        .webhooks,
        .runs,
        .ledger,
        .keyRotation,
        .annotations,
        .provenance,
        .decisionLabels,
        .guardrails,
        .notifications,
        .consoleSessions,
    ]
}
