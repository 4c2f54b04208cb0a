public import Foundation

/// Calls a tool's registered endpoint (compensations, live replays): a signed JSON POST carrying an
/// `Idempotency-Key`, answered with the status and the JSON body.
public protocol ToolInvoker: Sendable {
    func invoke(tenantID: UUID, endpoint: String, idempotencyKey: String, body: JSONValue) async -> ToolInvocation
}

extension Tool {
    /// Why the tool `name` (`tool` as registered, if it is) cannot be called at its endpoint; `nil`
    /// when it can: registered, not killed, with an endpoint.
    static func uncallable(_ tool: Tool?, name: String) -> String? {
        guard let tool else { return "tool '\(name)' is not registered" }
        guard tool.isActive else { return "tool '\(name)' is disabled by the kill switch" }
        return tool.endpoint == nil ? "tool '\(name)' has no endpoint" : nil
    }
}

/// What a tool's endpoint answered.
public struct ToolInvocation: Sendable, Equatable {
    /// The HTTP status; `nil` when no answer came (refused, timed out).
    public var status: Int?
    /// The answer's JSON body (`null` when empty or not JSON).
    public var output: JSONValue
    /// Why no answer came, or why it failed, without the URL.
    public var error: String?

    public init(status: Int?, output: JSONValue = .null, error: String? = nil) {
        self.status = status
        self.output = output
        self.error = error
    }

    public var succeeded: Bool { status.map { (200..<300).contains($0) } ?? false }
}

/// The outcome of compensating one tool call of a run (`POST …/runs/{run}/rollback`).
public struct RunCompensation: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable {
        /// The compensating endpoint answered 2xx.
        case succeeded
        /// It answered otherwise, or not at all, or could not be called (tool missing, killed, no endpoint).
        case failed
        /// The call declares no compensation: its effects remain.
        case notCompensable = "not_compensable"
        /// The call never completed (no `ended_at`): nothing to undo.
        case skipped
    }

    public var id: UUID
    public var tenantID: UUID
    public var runID: UUID
    public var stepID: UUID
    public var stepSequence: Int
    /// The tool whose call is undone.
    public var tool: String
    /// The tool called to undo it.
    public var compensationTool: String?
    public var status: Status
    public var httpStatus: Int?
    public var detail: String?
    public var reason: String
    public var requestedBy: String
    public var createdAt: Date

    public init(
        id: UUID, tenantID: UUID, runID: UUID, stepID: UUID, stepSequence: Int, tool: String, compensationTool: String?, status: Status,
        httpStatus: Int?, detail: String?, reason: String, requestedBy: String, createdAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.runID = runID
        self.stepID = stepID
        self.stepSequence = stepSequence
        self.tool = tool
        self.compensationTool = compensationTool
        self.status = status
        self.httpStatus = httpStatus
        self.detail = detail
        self.reason = reason
        self.requestedBy = requestedBy
        self.createdAt = createdAt
    }
}

/// How a replay treats tool calls.
public enum ReplayMode: String, Sendable, CaseIterable {
    /// Re-decide under today's policy and feed back the recorded outputs; nothing is called.
    case sandbox
    /// Re-decide (recorded) and call the tools' endpoints with the original idempotency keys; needs
    /// an approved approval request for the run.
    case live
}

/// A replay: the new run, the run it replays, and what diverged.
public struct RunReplay: Sendable, Equatable {
    public var runID: UUID
    public var tenantID: UUID
    public var originalRunID: UUID
    public var mode: ReplayMode
    public var untilStep: Int?
    public var approvalID: UUID?
    /// `{steps: [...], divergences, …}` as `ReplayService` writes it.
    public var report: JSONValue
    public var createdBy: String
    public var createdAt: Date

    public init(
        runID: UUID, tenantID: UUID, originalRunID: UUID, mode: ReplayMode, untilStep: Int?, approvalID: UUID?, report: JSONValue,
        createdBy: String, createdAt: Date
    ) {
        self.runID = runID
        self.tenantID = tenantID
        self.originalRunID = originalRunID
        self.mode = mode
        self.untilStep = untilStep
        self.approvalID = approvalID
        self.report = report
        self.createdBy = createdBy
        self.createdAt = createdAt
    }
}

extension LedgerItem {
    public static func compensation(_ outcome: RunCompensation) -> LedgerItem {
        LedgerItem(
            kind: .compensation, recordID: outcome.id.uuidString.lowercased(), at: outcome.createdAt,
            body: .object([
                "id": .string(outcome.id.uuidString.lowercased()), "run_id": .string(outcome.runID.uuidString.lowercased()),
                "step_id": .string(outcome.stepID.uuidString.lowercased()), "step_sequence": .int(Int64(outcome.stepSequence)),
                "tool": .string(outcome.tool), "compensation_tool": outcome.compensationTool.map(JSONValue.string) ?? .null,
                "status": .string(outcome.status.rawValue), "http_status": outcome.httpStatus.map { .int(Int64($0)) } ?? .null,
                "detail": outcome.detail.map(JSONValue.string) ?? .null, "reason": .string(outcome.reason),
                "requested_by": .string(outcome.requestedBy), "created_at": .string(Timestamp.format(outcome.createdAt)),
            ]))
    }

    public static func replay(_ replay: RunReplay) -> LedgerItem {
        LedgerItem(
            kind: .replay, recordID: replay.runID.uuidString.lowercased(), at: replay.createdAt,
            body: .object([
                "run_id": .string(replay.runID.uuidString.lowercased()), "original_run_id": .string(replay.originalRunID.uuidString.lowercased()),
                "mode": .string(replay.mode.rawValue), "until_step": replay.untilStep.map { .int(Int64($0)) } ?? .null,
                "approval_id": replay.approvalID.map { .string($0.uuidString.lowercased()) } ?? .null, "report": replay.report,
                "created_by": .string(replay.createdBy), "created_at": .string(Timestamp.format(replay.createdAt)),
            ]))
    }
}
