/// An error from Warden's domain, with a stable machine-readable code and a message
/// that is safe to show to the caller (no SQL, no secrets, no stack traces).
public struct WardenError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable error code. The HTTP edge maps each kind to a status.
    public struct Code: Sendable, Equatable, CustomStringConvertible {
        enum Kind: Sendable, Equatable {
            case badRequest
            case unauthenticated
            case forbidden
            case notFound
            case conflict
            case payloadTooLarge
            case unprocessable
            case unavailable
            case `internal`
        }

        let kind: Kind
        /// The snake_case code sent to clients, such as `tenant_not_found`.
        public let name: String

        init(_ kind: Kind, _ name: String) {
            self.kind = kind
            self.name = name
        }

        public var description: String { name }

        public var isBadRequest: Bool { kind == .badRequest }
        public var isUnauthenticated: Bool { kind == .unauthenticated }
        public var isForbidden: Bool { kind == .forbidden }
        public var isNotFound: Bool { kind == .notFound }
        public var isConflict: Bool { kind == .conflict }
        public var isPayloadTooLarge: Bool { kind == .payloadTooLarge }
        public var isUnprocessable: Bool { kind == .unprocessable }
        public var isUnavailable: Bool { kind == .unavailable }
        public var isInternal: Bool { kind == .internal }

        // MARK: Codes

        public static func invalidRequest(_ name: String = "invalid_request") -> Code { Code(.badRequest, name) }
        public static func conflict(_ name: String) -> Code { Code(.conflict, name) }
        public static let malformedJSON = Code(.badRequest, "malformed_json")
        public static let missingField = Code(.badRequest, "missing_field")
        public static let invalidField = Code(.badRequest, "invalid_field")
        public static let invalidCursor = Code(.badRequest, "invalid_cursor")
        public static let unauthenticated = Code(.unauthenticated, "unauthenticated")
        public static let forbidden = Code(.forbidden, "forbidden")
        public static let notFound = Code(.notFound, "not_found")
        public static let tenantNotFound = Code(.notFound, "tenant_not_found")
        public static let apiKeyNotFound = Code(.notFound, "api_key_not_found")
        public static let tenantExists = Code(.conflict, "tenant_exists")
        public static let apiKeyRevoked = Code(.conflict, "api_key_revoked")
        public static let lastGlobalAdmin = Code(.conflict, "last_global_admin")
        public static let agentNotFound = Code(.notFound, "agent_not_found")
        public static let agentExists = Code(.conflict, "agent_exists")
        public static let tokenNotFound = Code(.notFound, "token_not_found")
        public static let tokenRevoked = Code(.conflict, "token_revoked")
        public static let toolNotFound = Code(.notFound, "tool_not_found")
        public static let toolExists = Code(.conflict, "tool_exists")
        public static let toolAlreadyDisabled = Code(.conflict, "tool_already_disabled")
        public static let toolAlreadyActive = Code(.conflict, "tool_already_active")
        public static let decisionNotFound = Code(.notFound, "decision_not_found")
        public static let decisionLogUnavailable = Code(.unavailable, "decision_log_unavailable")
        public static let payloadTooLarge = Code(.payloadTooLarge, "payload_too_large")
        public static let databaseUnavailable = Code(.unavailable, "database_unavailable")
        public static let internalError = Code(.internal, "internal_error")
        public static let invalidPolicy = Code(.unprocessable, "invalid_policy")
        public static let bundleNotFound = Code(.notFound, "bundle_not_found")
        public static let bundleVersionExists = Code(.conflict, "bundle_version_exists")
        public static let bundleImmutable = Code(.conflict, "bundle_immutable")
        public static let bundleAlreadyActive = Code(.conflict, "bundle_already_active")
        public static let bundleStateConflict = Code(.conflict, "bundle_state_conflict")
        public static let bundleNotApproved = Code(.conflict, "bundle_not_approved")
        public static let rolloutGateFailed = Code(.conflict, "rollout_gate_failed")
        public static let versionSkipped = Code(.unprocessable, "version_skipped")
        public static let invalidSignature = Code(.badRequest, "invalid_signature")
        public static let notSimulatable = Code(.unprocessable, "not_simulatable")
        public static let approvalNotFound = Code(.notFound, "approval_not_found")
        public static let approvalResolved = Code(.conflict, "approval_resolved")
        public static let runNotFound = Code(.notFound, "run_not_found")
        public static let runEnded = Code(.conflict, "run_ended")
        public static let ledgerCheckpointExists = Code(.conflict, "ledger_checkpoint_exists")
        public static let signingKeyConfigured = Code(.conflict, "signing_key_configured")
        public static let ledgerSigningUnavailable = Code(.unavailable, "ledger_signing_unavailable")
        public static let deliveryNotFound = Code(.notFound, "webhook_delivery_not_found")
        public static let provenanceNotFound = Code(.notFound, "provenance_not_found")
        /// The record has no ledger entry (written before the ledger), or differs from it.
        public static let provenanceUnavailable = Code(.conflict, "provenance_unavailable")
        /// A live replay without an approved approval request for the run.
        public static let replayNotApproved = Code(.forbidden, "replay_not_approved")
        public static let approvalUsed = Code(.conflict, "approval_used")
        public static let deliveryDelivered = Code(.conflict, "webhook_delivered")
        public static let idempotencyConflict = Code(.conflict, "idempotency_conflict")
        public static let signatureExpired = Code(.badRequest, "signature_expired")
    }

    public let code: Code
    public let message: String
    /// Structured facts for the caller (an invalid policy's file, line and column).
    public let details: [String: JSONValue]

    public init(_ code: Code, _ message: String, details: [String: JSONValue] = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String { "\(code.name): \(message)" }
}
