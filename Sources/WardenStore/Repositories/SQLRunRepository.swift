import Foundation
import SQLKit
import WardenCore

struct SQLRunRepository: RunRepository {
    let db: any SQLDatabase

    static let columns = [
        "id", "tenant_id", "agent_id", "goal", "plan", "model", "status", "created_by", "created_at", "ended_at", "end_reason", "ended_by",
        "step_count",
    ]
    static let stepColumns = [
        "id", "tenant_id", "run_id", "seq", "kind", "started_at", "ended_at", "data", "labels", "created_by", "created_at",
    ]
    static let columnList = SQLText.columnList(columns)
    static let stepColumnList = SQLText.columnList(stepColumns)

    func insert(_ run: Run) async throws {
        let values: [any Encodable & Sendable] = [
            run.id.uuidString.lowercased(), run.tenantID.uuidString.lowercased(), run.agentID, run.goal, run.plan?.canonicalText, run.model,
            run.status.rawValue, run.createdBy, Timestamp.format(run.createdAt), run.endedAt.map(Timestamp.format), run.endReason, run.endedBy,
            run.stepCount,
        ]
        try await db.raw("INSERT INTO runs (\(unsafeRaw: Self.columnList)) VALUES (\(binds: values))").run()
        try await SQLLedgerRepository(db: db).append(tenantID: run.tenantID, [.run(run, at: run.createdAt)])
    }

    func find(tenantID: UUID, id: UUID) async throws -> Run? {
        try await db.raw(
            """
            SELECT \(unsafeRaw: Self.columnList) FROM runs
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND id = \(bind: id.uuidString.lowercased())
            """
        ).first().map(Self.decode)
    }

    func list(_ query: RunQuery, _ page: PageRequest) async throws -> Page<Run> {
        let select = db.select().columns(Self.columns).from("runs").where("tenant_id", .equal, query.tenantID.uuidString.lowercased())
        if let agent = query.agentID { select.where("agent_id", .equal, agent) }
        if let status = query.status { select.where("status", .equal, status.rawValue) }
        if let since = query.since { select.where("created_at", .greaterThanOrEqual, Timestamp.format(since)) }
        if let until = query.until { select.where("created_at", .lessThan, Timestamp.format(until)) }
        let rows = try await select.page(page, descending: true).all()
        return Page(fetched: try rows.map(Self.decode), limit: page.limit) {
            Cursor(createdAt: Timestamp.format($0.createdAt), id: $0.id.uuidString.lowercased())
        }
    }

    func nextStep(tenantID: UUID, runID: UUID) async throws -> Int? {
        let row = try await db.raw(
            """
            UPDATE runs SET step_count = step_count + 1
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND id = \(bind: runID.uuidString.lowercased()) AND status = 'running'
            RETURNING step_count
            """
        ).first()
        return try row?.decode(column: "step_count", as: Int.self)
    }

    func insert(_ step: RunStep) async throws {
        let values: [any Encodable & Sendable] = [
            step.id.uuidString.lowercased(), step.tenantID.uuidString.lowercased(), step.runID.uuidString.lowercased(), step.sequence,
            step.kind.rawValue, Timestamp.format(step.startedAt), step.endedAt.map(Timestamp.format), JSONValue.object(step.data).canonicalText,
            step.labels.isEmpty ? nil : StoredJSON.encode(step.labels), step.createdBy, Timestamp.format(step.createdAt),
        ]
        try await db.raw("INSERT INTO run_steps (\(unsafeRaw: Self.stepColumnList)) VALUES (\(binds: values))").run()
        try await SQLLedgerRepository(db: db).append(tenantID: step.tenantID, [.step(step)])
    }

    func steps(tenantID: UUID, runID: UUID) async throws -> [RunStep] {
        try await db.raw(
            """
            SELECT \(unsafeRaw: Self.stepColumnList) FROM run_steps
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND run_id = \(bind: runID.uuidString.lowercased()) ORDER BY seq
            """
        ).all().map(Self.decodeStep)
    }

    func end(tenantID: UUID, runID: UUID, status: RunStatus, at: Date, reason: String?, by: String) async throws -> Bool {
        let row = try await db.raw(
            """
            UPDATE runs SET status = \(bind: status.rawValue), ended_at = \(bind: Timestamp.format(at)), end_reason = \(bind: reason),
              ended_by = \(bind: by)
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND id = \(bind: runID.uuidString.lowercased()) AND status = 'running'
            RETURNING id
            """
        ).first()
        guard row != nil, let ended = try await find(tenantID: tenantID, id: runID) else { return false }
        try await SQLLedgerRepository(db: db).append(tenantID: tenantID, [.run(ended, at: at)])
        return true
    }

    func linkedDecisions(tenantID: UUID, runID: String) async throws -> [DecisionRecord] {
        try await db.select().columns(SQLDecisionRepository.columns).from("decisions")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).where("run_id", .equal, runID)
            .orderBy("created_at").orderBy("id").limit(10_000).all().map(SQLDecisionRepository.decode)
    }

    func linkedApprovals(tenantID: UUID, runID: String) async throws -> [ApprovalRequest] {
        try await db.raw(
            """
            SELECT \(unsafeRaw: SQLApprovalRepository.columnList) FROM approvals
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND run_id = \(bind: runID) ORDER BY created_at, id LIMIT 10000
            """
        ).all().map(SQLApprovalRepository.decode)
    }

    func insert(_ annotation: RunAnnotation) async throws {
        let values: [any Encodable & Sendable] = [
            annotation.id.uuidString.lowercased(), annotation.tenantID.uuidString.lowercased(), annotation.runID.uuidString.lowercased(),
            annotation.kind.rawValue, annotation.text, annotation.decisionID?.uuidString.lowercased(), annotation.policyVersion,
            annotation.createdBy, Timestamp.format(annotation.createdAt),
        ]
        try await db.raw(
            """
            INSERT INTO run_annotations (id, tenant_id, run_id, kind, text, decision_id, policy_version, created_by, created_at)
            VALUES (\(binds: values))
            """
        ).run()
        try await SQLLedgerRepository(db: db).append(tenantID: annotation.tenantID, [.annotation(annotation)])
    }

    func annotations(tenantID: UUID, runID: UUID) async throws -> [RunAnnotation] {
        try await db.raw(
            """
            SELECT \(unsafeRaw: Self.annotationColumns) FROM run_annotations
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND run_id = \(bind: runID.uuidString.lowercased()) ORDER BY created_at, id
            """
        ).all().map(Self.decodeAnnotation)
    }

    func cancelledIDs(tenantID: UUID) async throws -> Set<String> {
        Set(
            try await db.raw("SELECT id FROM runs WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND status = 'cancelled'").all().map {
                try $0.decode(column: "id", as: String.self)
            })
    }

    func step(tenantID: UUID, id: UUID) async throws -> RunStep? {
        try await db.raw(
            """
            SELECT \(unsafeRaw: Self.stepColumnList) FROM run_steps
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND id = \(bind: id.uuidString.lowercased())
            """
        ).first().map(Self.decodeStep)
    }

    static let compensationColumns = SQLText.columnList([
        "id", "tenant_id", "run_id", "step_id", "step_seq", "tool", "compensation_tool", "status", "http_status", "detail", "reason",
        "requested_by", "created_at",
    ])

    func insert(_ compensation: RunCompensation) async throws {
        let values: [any Encodable & Sendable] = [
            compensation.id.uuidString.lowercased(), compensation.tenantID.uuidString.lowercased(), compensation.runID.uuidString.lowercased(),
            compensation.stepID.uuidString.lowercased(), compensation.stepSequence, compensation.tool, compensation.compensationTool,
            compensation.status.rawValue, compensation.httpStatus, compensation.detail, compensation.reason, compensation.requestedBy,
            Timestamp.format(compensation.createdAt),
        ]
        try await db.raw("INSERT INTO run_compensations (\(unsafeRaw: Self.compensationColumns)) VALUES (\(binds: values))").run()
        try await SQLLedgerRepository(db: db).append(tenantID: compensation.tenantID, [.compensation(compensation)])
    }

    func compensations(tenantID: UUID, runID: UUID) async throws -> [RunCompensation] {
        try await db.raw(
            """
            SELECT \(unsafeRaw: Self.compensationColumns) FROM run_compensations
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND run_id = \(bind: runID.uuidString.lowercased())
            ORDER BY created_at, id
            """
        ).all().map(Self.decodeCompensation)
    }

    static let replayColumns = SQLText.columnList([
        "run_id", "tenant_id", "original_run_id", "mode", "until_step", "approval_id", "report", "created_by", "created_at",
    ])

    func insert(_ replay: RunReplay) async throws {
        let values: [any Encodable & Sendable] = [
            replay.runID.uuidString.lowercased(), replay.tenantID.uuidString.lowercased(), replay.originalRunID.uuidString.lowercased(),
            replay.mode.rawValue, replay.untilStep, replay.approvalID?.uuidString.lowercased(), replay.report.canonicalText, replay.createdBy,
            Timestamp.format(replay.createdAt),
        ]
        do {
            try await db.raw("INSERT INTO run_replays (\(unsafeRaw: Self.replayColumns)) VALUES (\(binds: values))").run()
        } catch  where StoreError.isUniqueViolation(error) {
            throw WardenError(.approvalUsed, "approval request '\(replay.approvalID?.uuidString.lowercased() ?? "")' already allowed a live replay")
        }
        try await SQLLedgerRepository(db: db).append(tenantID: replay.tenantID, [.replay(replay)])
    }

    func replay(tenantID: UUID, runID: UUID) async throws -> RunReplay? {
        try await db.raw(
            """
            SELECT \(unsafeRaw: Self.replayColumns) FROM run_replays
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND run_id = \(bind: runID.uuidString.lowercased())
            """
        ).first().map(Self.decodeReplay)
    }

    func replays(tenantID: UUID, originalRunID: UUID) async throws -> [RunReplay] {
        try await db.raw(
            """
            SELECT \(unsafeRaw: Self.replayColumns) FROM run_replays
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND original_run_id = \(bind: originalRunID.uuidString.lowercased())
            ORDER BY created_at, run_id
            """
        ).all().map(Self.decodeReplay)
    }

    static func decodeReplay(_ row: any SQLRow) throws -> RunReplay {
        guard let mode = ReplayMode(rawValue: try row.decode(column: "mode", as: String.self)),
            let report = JSONValue.parse(try row.decode(column: "report", as: String.self))
        else { throw StoreError(message: "run_replays holds an unknown mode or an invalid report") }
        return RunReplay(
            runID: try row.decodeUUID("run_id"), tenantID: try row.decodeUUID("tenant_id"), originalRunID: try row.decodeUUID("original_run_id"),
            mode: mode, untilStep: try row.decode(column: "until_step", as: Int?.self), approvalID: try row.decodeOptionalUUID("approval_id"),
            report: report, createdBy: try row.decode(column: "created_by", as: String.self), createdAt: try row.decodeDate("created_at"))
    }

    static let annotationColumns = "id, tenant_id, run_id, kind, text, decision_id, policy_version, created_by, created_at"

    static func decodeCompensation(_ row: any SQLRow) throws -> RunCompensation {
        guard let status = RunCompensation.Status(rawValue: try row.decode(column: "status", as: String.self)) else {
            throw StoreError(message: "run_compensations holds an unknown status")
        }
        return RunCompensation(
            id: try row.decodeUUID("id"), tenantID: try row.decodeUUID("tenant_id"), runID: try row.decodeUUID("run_id"),
            stepID: try row.decodeUUID("step_id"), stepSequence: try row.decode(column: "step_seq", as: Int.self),
            tool: try row.decode(column: "tool", as: String.self),
            compensationTool: try row.decode(column: "compensation_tool", as: String?.self),
            status: status, httpStatus: try row.decode(column: "http_status", as: Int?.self),
            detail: try row.decode(column: "detail", as: String?.self), reason: try row.decode(column: "reason", as: String.self),
            requestedBy: try row.decode(column: "requested_by", as: String.self), createdAt: try row.decodeDate("created_at"))
    }

    static func decodeAnnotation(_ row: any SQLRow) throws -> RunAnnotation {
        guard let kind = RunAnnotation.Kind(rawValue: try row.decode(column: "kind", as: String.self)) else {
            throw StoreError(message: "run_annotations holds an unknown kind")
        }
        return RunAnnotation(
            id: try row.decodeUUID("id"), tenantID: try row.decodeUUID("tenant_id"), runID: try row.decodeUUID("run_id"), kind: kind,
            text: try row.decode(column: "text", as: String.self), decisionID: try row.decodeOptionalUUID("decision_id"),
            policyVersion: try row.decode(column: "policy_version", as: String?.self),
            createdBy: try row.decode(column: "created_by", as: String.self),
            createdAt: try row.decodeDate("created_at"))
    }

    static func decode(_ row: any SQLRow) throws -> Run {
        guard let status = RunStatus(rawValue: try row.decode(column: "status", as: String.self)) else {
            throw StoreError(message: "runs holds an unknown status")
        }
        return Run(
            id: try row.decodeUUID("id"), tenantID: try row.decodeUUID("tenant_id"), agentID: try row.decode(column: "agent_id", as: String.self),
            goal: try row.decode(column: "goal", as: String.self), plan: try row.decode(column: "plan", as: String?.self).flatMap(JSONValue.parse),
            model: try row.decode(column: "model", as: String?.self), status: status,
            createdBy: try row.decode(column: "created_by", as: String.self), createdAt: try row.decodeDate("created_at"),
            endedAt: try row.decodeOptionalDate("ended_at"), endReason: try row.decode(column: "end_reason", as: String?.self),
            endedBy: try row.decode(column: "ended_by", as: String?.self), stepCount: try row.decode(column: "step_count", as: Int.self))
    }

    static func decodeStep(_ row: any SQLRow) throws -> RunStep {
        guard let kind = StepKind(rawValue: try row.decode(column: "kind", as: String.self)),
            case .object(let data)? = JSONValue.parse(try row.decode(column: "data", as: String.self))
        else { throw StoreError(message: "run_steps holds an unknown kind or invalid data") }
        return RunStep(
            id: try row.decodeUUID("id"), tenantID: try row.decodeUUID("tenant_id"), runID: try row.decodeUUID("run_id"),
            sequence: try row.decode(column: "seq", as: Int.self), kind: kind, startedAt: try row.decodeDate("started_at"),
            endedAt: try row.decodeOptionalDate("ended_at"), data: data,
            labels: try row.decode(column: "labels", as: String?.self).map {
                try StoredJSON.decode([String: DataLabel].self, $0, column: "run_steps.labels")
            } ?? [:], createdBy: try row.decode(column: "created_by", as: String.self), createdAt: try row.decodeDate("created_at"))
    }
}
