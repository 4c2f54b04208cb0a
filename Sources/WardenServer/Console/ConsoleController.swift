import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import WardenCore

/// The operator console at `/console`: server-rendered pages (swift-mustache templates in
/// `Resources/console`) over the same services, roles and tenant scoping as the API. A session is
/// opened with an API key and acts as that key; every form carries the session's CSRF token.
struct ConsoleController: Sendable {
    let library: MustacheLibrary
    let sessions: ConsoleSessionService
    let identity: IdentityService
    let services: DecisionPathServices
    let store: any Store
    let clock: any WallClock

    static let sessionCookie = "warden_session"
    static let loginCookie = "warden_login"

    func addRoutes(to router: Router<WardenRequestContext>) {
        router.get("/console", use: overview)
        router.get("/console/login", use: loginPage)
        router.post("/console/login", use: login)
        router.post("/console/logout", use: logout)
        router.get("/console/tenants/:tenant/tools", use: tools)
        router.post("/console/tenants/:tenant/tools/:tool/kill") { request, context in try await setActive(false, request, context) }
        router.post("/console/tenants/:tenant/tools/:tool/restore") { request, context in try await setActive(true, request, context) }
        router.get("/console/tenants/:tenant/approvals", use: approvals)
        router.get("/console/tenants/:tenant/approvals/:id", use: approval)
        router.post("/console/tenants/:tenant/approvals/:id/vote", use: vote)
        router.get("/console/tenants/:tenant/decisions", use: decisions)
        router.get("/console/tenants/:tenant/decisions/:id", use: decision)
        router.get("/console/tenants/:tenant/runs", use: runs)
        router.get("/console/tenants/:tenant/runs/:run", use: run)
        router.get("/console/tenants/:tenant/provenance", use: provenance)
        router.get("/console/tenants/:tenant/events", use: events)
        router.get("/console/tenants/:tenant/bundles", use: bundles)
        router.post("/console/tenants/:tenant/bundles/:id/:verb", use: moveBundle)
    }

    /// A signed-in request: the session, whom it acts as, and the context with that principal set
    /// (so `TenantScope` and the services check roles and tenants as for an API call).
    struct Signed {
        var session: ConsoleSession
        var principal: Principal
        var context: WardenRequestContext
    }

    // MARK: Sign-in

    @Sendable func loginPage(_ request: Request, context: WardenRequestContext) async throws -> Response {
        if try await signedIn(request, context) != nil { return Self.redirect("/console") }
        return try loginForm(request, flash: nil, status: .ok)
    }

    private func loginForm(_ request: Request, flash: String?, status: HTTPResponse.Status) throws -> Response {
        // Login CSRF: the form's token must equal this cookie's (double submit); a strict SameSite
        // cookie is not sent with another site's form.
        let token = ConsoleSessionService.randomText(SystemRandomSource(), bytes: 24)
        var data: [String: Any] = ["title": "Sign in", "csrf": token]
        if let flash { data["flash"] = ["kind": "error", "message": flash] }
        var response = try page("login", data, status: status)
        response.setCookie(Self.cookie(Self.loginCookie, token, request: request, maxAge: 3600))
        return response
    }

    @Sendable func login(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let form = try await Self.form(request, context: context)
        guard let expected = request.cookies[Self.loginCookie]?.value, let given = form["csrf"], ConstantTime.equal(expected, given) else {
            return try loginForm(request, flash: "Your sign-in form expired; please try again.", status: .forbidden)
        }
        do {
            let (token, _, principal) = try await sessions.signIn(key: form["key"] ?? "")
            context.logger.info("console.signed_in", metadata: ["api_key.id": "\(principal.keyID.uuidString.lowercased())"])
            var response = Self.redirect("/console")
            response.setCookie(Self.cookie(Self.sessionCookie, token, request: request, maxAge: Int(ConsoleSessionService.lifetime)))
            response.setCookie(Self.cookie(Self.loginCookie, "", request: request, maxAge: 0))
            return response
        } catch let error as WardenError where error.code == .unauthenticated {
            return try loginForm(request, flash: "That API key is not valid.", status: .unauthorized)
        }
    }

    @Sendable func logout(_ request: Request, context: WardenRequestContext) async throws -> Response {
        guard let signed = try await signedIn(request, context) else { return Self.redirect("/console/login") }
        try await checkCSRF(request, signed)
        if let token = request.cookies[Self.sessionCookie]?.value { try await sessions.signOut(token: token, principal: signed.principal) }
        var response = Self.redirect("/console/login")
        response.setCookie(Self.cookie(Self.sessionCookie, "", request: request, maxAge: 0))
        return response
    }

    // MARK: Pages

    @Sendable func overview(_ request: Request, context: WardenRequestContext) async throws -> Response {
        guard let signed = try await signedIn(request, context) else { return Self.redirect("/console/login") }
        let now = clock.now()
        let since = now.addingTimeInterval(-3600)
        var tenants: [Tenant] = []
        if let tenantID = signed.principal.tenantID {
            tenants = [try await services.snapshots.snapshot(tenantID: tenantID).tenant]
        } else {
            tenants = try await identity.listTenants(by: signed.principal, page: PageRequest(limit: 50)).items
        }
        var cards: [[String: Any]] = []
        for tenant in tenants {
            let snapshot = try await services.snapshots.snapshot(tenantID: tenant.id)
            let tenantID = tenant.id
            let (summary, minutes, pending, escalated, incidents) = try await store.read { repos in
                (
                    try await repos.decisions.summary(tenantID: tenantID, since: since),
                    try await repos.decisions.perMinute(tenantID: tenantID, since: since),
                    try await repos.approvals.list(tenantID: tenantID, status: .pending, PageRequest(limit: 500)).items.count,
                    try await repos.approvals.list(tenantID: tenantID, status: .escalated, PageRequest(limit: 500)).items.count,
                    try await repos.incidents.list(tenantID: tenantID, PageRequest(limit: 100)).items.filter {
                        $0.createdAt > now.addingTimeInterval(-86_400)
                    }.count
                )
            }
            let total = summary.total
            func share(_ count: Int) -> Int { total == 0 ? 0 : Int((Double(count) * 100 / Double(total)).rounded()) }
            let denyRate = total == 0 ? 0 : Double(summary.deny) / Double(total)
            let errorRate = total == 0 ? 0 : Double(summary.errors) / Double(total)
            let panic = tenant.panic.flatMap { $0.isActive(at: now) ? $0 : nil }
            let disabled = snapshot.tools.values.filter { !$0.tool.isActive }.count
            cards.append(
                [
                    "slug": tenant.slug, "decisions": total, "perMinute": Self.plain((Double(total) / 60 * 10).rounded() / 10),
                    "chart": Self.chart(minutes, now: now), "peak": max(1, minutes.values.map(\.total).max() ?? 0), "allow": summary.allow,
                    "deny": summary.deny, "approval": summary.requireApproval,
                    "allowPct": share(summary.allow), "denyPct": share(summary.deny), "approvalPct": share(summary.requireApproval),
                    "denyRate": Self.percent(denyRate), "denyHigh": denyRate > 0.25, "errorRate": Self.percent(errorRate),
                    "errorsHigh": errorRate > 0.01, "pendingApprovals": pending + escalated, "pendingBad": pending + escalated > 0,
                    "openIncidents": incidents, "incidentsBad": incidents > 0, "toolsDisabled": disabled, "disabledBad": disabled > 0,
                    "panic": panic != nil, "panicReason": panic?.reason ?? "",
                    "activeBundle": snapshot.bundle.map { "\($0.version)" } ?? "none",
                ].merging(snapshot.canary.map { ["canary": "\($0.bundle.version) at \($0.share) %"] } ?? [:]) { _, new in new })
        }
        return try page(
            "overview",
            try await base(signed, title: "Overview", nav: "overview", tenant: tenants.count == 1 ? tenants[0] : nil).merging([
                "tenants": cards, "generatedAt": Self.clockTime(now),
            ]) { _, new in new })
    }

    @Sendable func tools(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await signedPage(request, context) { signed in
            try await toolsPage(signed, flash: Self.notice(request))
        }
    }

    private func toolsPage(_ signed: Signed, flash: [String: Any]?, status: HTTPResponse.Status = .ok) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(signed.context, .readTools)
        let listed = try await services.tools.list(by: principal, tenant: tenant, page: PageRequest(limit: PageRequest.maximumLimit)).items
        let acks = try await services.tools.acks(for: listed)
        let rows: [[String: Any]] = listed.map { tool in
            [
                "name": tool.name, "description": tool.description, "risk": tool.risk.rawValue, "active": tool.isActive,
                "stateVersion": tool.stateVersion, "disabledReason": tool.stateReason ?? "",
                "acks": (acks[tool.id] ?? []).map { ack in
                    ["adapter": ack.adapterID, "version": ack.stateVersion, "current": ack.stateVersion >= tool.stateVersion] as [String: Any]
                },
            ]
        }
        var data = try await base(signed, title: "Tools · \(tenant.slug)", nav: "tools", tenant: tenant)
        data["tools"] = rows
        data["canOperate"] = principal.has(.operateKillSwitch)
        if let flash { data["flash"] = flash }
        return try page("tools", data, status: status)
    }

    /// Kill or restore from the tools page, then back to it saying what happened.
    func setActive(_ active: Bool, _ request: Request, _ context: WardenRequestContext) async throws -> Response {
        try await signedPage(request, context) { signed in
            let form = try await checkCSRF(request, signed)
            let (tenant, principal) = try await scope.tenant(signed.context, .operateKillSwitch)
            let name = try signed.context.parameters.require("tool")
            do {
                _ = try await services.tools.setActive(active, by: principal, tenant: tenant, name: name, reason: form["reason"] ?? "")
            } catch let error as WardenError where error.code == .missingField || error.code == .invalidField {
                return try await toolsPage(signed, flash: ["kind": "error", "message": error.message], status: .badRequest)
            }
            return Self.redirect("/console/tenants/\(tenant.slug)/tools?done=\(active ? "restored" : "killed")&tool=\(Self.query(name))")
        }
    }

    // MARK: Approvals

    @Sendable func approvals(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await signedPage(request, context) { signed in
            let (tenant, principal) = try await scope.tenant(signed.context, .readApprovals)
            let filter = request.uri.queryParameters.get("status") ?? "open"
            let statuses: [ApprovalStatus?]
            switch filter {
            case "open": statuses = [.pending, .escalated]
            case "all": statuses = [nil]
            default:
                guard let status = ApprovalStatus(rawValue: filter) else {
                    throw WardenError(.invalidField, "status must be open, all, or one of pending, escalated, approved, rejected, expired")
                }
                statuses = [status]
            }
            var found: [ApprovalRequest] = []
            for status in statuses {
                found += try await services.approvals.list(tenant: tenant, status: status, page: PageRequest(limit: 200)).items
            }
            found.sort { $0.createdAt > $1.createdAt }
            var data = try await base(signed, title: "Approvals · \(tenant.slug)", nav: "approvals", tenant: tenant)
            let choices = ["open", "pending", "escalated", "approved", "rejected", "expired", "all"]
            data["filters"] = choices.map { ["value": $0, "label": $0, "selected": $0 == filter, "last": $0 == choices.last] as [String: Any] }
            data["approvals"] = found.map { approval -> [String: Any] in
                [
                    "id": approval.id.uuidString.lowercased(), "created": Self.dateTime(approval.createdAt), "agent": approval.agentID,
                    "tool": approval.tool, "action": approval.action, "level": approval.level.rawValue, "status": approval.status.rawValue,
                    "approved": approval.approvals.count, "needed": approval.approvalsNeeded,
                ]
            }
            _ = principal
            return try page("approvals", data)
        }
    }

    @Sendable func approval(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await signedPage(request, context) { signed in
            try await approvalPage(signed, request: request, flash: Self.notice(request))
        }
    }

    private func approvalPage(_ signed: Signed, request: Request, flash: [String: Any]?, status: HTTPResponse.Status = .ok) async throws
        -> Response
    {
        let (tenant, principal) = try await scope.tenant(signed.context, .readApprovals)
        let id = try signed.context.id("id", .approvalNotFound, "approval")
        let approval = try await services.approvals.get(tenant: tenant, id: id)
        var shown: [String: Any] = [
            "id": approval.id.uuidString.lowercased(), "agent": approval.agentID, "tool": approval.tool, "action": approval.action,
            "requestedBy": approval.requestedBy, "level": approval.level.rawValue, "status": approval.status.rawValue,
            "approved": approval.approvals.count, "needed": approval.approvalsNeeded, "approvers": approval.approvals,
            "hasApprovers": !approval.approvals.isEmpty,
            "expires": Self.dateTime(approval.expiresAt), "reason": approval.reason ?? "", "input": Self.pretty(approval.input),
            "labels": approval.labels.sorted { $0.key < $1.key }.map { ["path": $0.key, "label": $0.value.rawValue] },
            "history": approval.history.map { change -> [String: Any] in
                ["at": Self.dateTime(change.at), "status": change.status.rawValue, "actor": change.actor, "comment": change.comment ?? ""]
            },
        ]
        if let runID = approval.runID { shown["runID"] = runID }
        if let decisionID = approval.decisionID { shown["decisionID"] = decisionID.uuidString.lowercased() }
        var data = try await base(signed, title: "Approval · \(approval.tool)", nav: "approvals", tenant: tenant)
        data["approval"] = shown
        data["canVote"] = principal.has(.decideApprovals) && !approval.status.isResolved
        if let flash { data["flash"] = flash }
        return try page("approval", data, status: status)
    }

    /// Approve or reject with a comment, then back to the request.
    @Sendable func vote(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await signedPage(request, context) { signed in
            let form = try await checkCSRF(request, signed)
            let (tenant, principal) = try await scope.tenant(signed.context, .decideApprovals)
            let id = try signed.context.id("id", .approvalNotFound, "approval")
            let vote: ApprovalRules.Vote
            switch form["vote"] {
            case "approve": vote = .approve
            case "reject": vote = .reject
            default: throw WardenError(.invalidField, "vote must be approve or reject")
            }
            let comment = form["comment"].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
            do {
                let approval = try await services.approvals.vote(by: principal, tenant: tenant, id: id, vote, comment: comment)
                let done = approval.status.isResolved ? approval.status.rawValue : "voted"
                return Self.redirect("/console/tenants/\(tenant.slug)/approvals/\(id.uuidString.lowercased())?done=\(done)")
            } catch let error as WardenError where error.code.isConflict || error.code.isForbidden || error.code.isBadRequest {
                return try await approvalPage(
                    signed, request: request, flash: ["kind": "error", "message": error.message],
                    status: ErrorMiddleware<WardenRequestContext>.status(for: error.code))
            }
        }
    }

    // MARK: Decisions

    @Sendable func decisions(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await signedPage(request, context) { signed in
            let (tenant, _) = try await scope.tenant(signed.context, .readDecisions)
            func field(_ name: String) -> String? {
                request.uri.queryParameters.get(name).map { String($0).trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
            }
            let effect = try field("effect").map { text -> Effect in
                guard let effect = Effect(rawValue: text) else { throw WardenError(.invalidField, "effect must be allow, deny or require_approval") }
                return effect
            }
            let query = DecisionQuery(
                tenantID: tenant.id, effect: effect, tool: field("tool"), agentID: field("agent"), bundle: field("bundle"),
                since: try field("since").map { try Request.time($0, field: "from") },
                until: try field("until").map { try Request.time($0, field: "to") })
            let window = try PageRequest(limit: "50", cursor: field("cursor"))
            let result = try await store.read { [query] in try await $0.decisions.list(query, window) }
            var data = try await base(signed, title: "Decisions · \(tenant.slug)", nav: "decisions", tenant: tenant)
            data["effects"] = [("", "any effect"), ("allow", "allow"), ("deny", "deny"), ("require_approval", "require approval")].map {
                ["value": $0.0, "label": $0.1, "selected": $0.0 == (field("effect") ?? "")] as [String: Any]
            }
            data["filter"] = [
                "tool": field("tool") ?? "", "agent": field("agent") ?? "", "bundle": field("bundle") ?? "",
                "since": field("since") ?? "", "until": field("until") ?? "",
            ]
            data["decisions"] = result.items.map { record -> [String: Any] in
                var row: [String: Any] = [
                    "id": record.id.uuidString.lowercased(), "created": Self.dateTime(record.createdAt), "effect": record.effect.rawValue,
                    "agent": record.agentID, "tool": record.tool, "action": record.action, "reasons": record.reasons.joined(separator: ", "),
                    "bundle": record.bundle ?? "—",
                ]
                if let cohort = record.cohort { row["cohort"] = cohort.rawValue }
                return row
            }
            if let next = result.nextCursor {
                var parameters = ["effect", "tool", "agent", "bundle", "since", "until"].compactMap { name in
                    field(name).map { "\(name)=\(Self.query($0))" }
                }
                parameters.append("cursor=\(Self.query(next))")
                data["next"] = "/console/tenants/\(tenant.slug)/decisions?" + parameters.joined(separator: "&")
            }
            return try page("decisions", data)
        }
    }

    @Sendable func decision(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await signedPage(request, context) { signed in
            let (tenant, _) = try await scope.tenant(signed.context, .readDecisions)
            let id = try signed.context.id("id", .decisionNotFound, "decision")
            let tenantID = tenant.id
            guard let record = try await store.read({ try await $0.decisions.find(tenantID: tenantID, id: id) }) else {
                throw WardenError(.decisionNotFound, "decision '\(id.uuidString.lowercased())' not found")
            }
            var shown: [String: Any] = [
                "id": record.id.uuidString.lowercased(), "created": Self.dateTime(record.createdAt), "effect": record.effect.rawValue,
                "agent": record.agentID, "tool": record.tool, "action": record.action, "reasons": record.reasons.joined(separator: ", "),
                "bundle": record.bundle ?? "none", "evaluated": String(format: "%.3f ms", Double(record.evaluatedNanoseconds) / 1e6),
                "input": Self.pretty(JSONValue.parse(record.input) ?? .string(record.input)),
                "labels": record.labels.sorted { $0.key < $1.key }.map { ["path": $0.key, "label": $0.value.rawValue] },
            ]
            if let cohort = record.cohort { shown["cohort"] = cohort.rawValue }
            if let cost = record.cost { shown["cost"] = Self.plain(cost) }
            if let runID = record.runID {
                shown["runID"] = runID
                // A run Warden tracks has a page; other run ids are the agent's own labels.
                if let tracked = UUID(uuidString: runID) {
                    shown["runLink"] = "/console/tenants/\(tenant.slug)/runs/\(tracked.uuidString.lowercased())"
                }
            }
            if let traceID = record.traceID { shown["traceID"] = traceID }
            var data = try await base(signed, title: "Decision · \(record.tool)", nav: "decisions", tenant: tenant)
            data["decision"] = shown
            return try page("decision", data)
        }
    }

    // MARK: Runs

    @Sendable func runs(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await signedPage(request, context) { signed in
            let (tenant, _) = try await scope.tenant(signed.context, .readDecisions)
            let agent = request.uri.queryParameters.get("agent").map { String($0).trimmingCharacters(in: .whitespaces) }.flatMap {
                $0.isEmpty ? nil : $0
            }
            let statusText = request.uri.queryParameters.get("status").map { String($0) } ?? ""
            let status =
                try statusText.isEmpty
                ? nil
                : RunStatus(rawValue: statusText)
                    ?? {
                        throw WardenError(.invalidField, "status must be running, completed, failed or cancelled")
                    }()
            let result = try await services.runs.list(RunQuery(tenantID: tenant.id, agentID: agent, status: status), page: PageRequest(limit: 100))
            var data = try await base(signed, title: "Runs · \(tenant.slug)", nav: "runs", tenant: tenant)
            data["filter"] = ["agent": agent ?? ""]
            data["statuses"] = ([""] + RunStatus.allCases.map(\.rawValue)).map {
                ["value": $0, "label": $0.isEmpty ? "any status" : $0, "selected": $0 == statusText] as [String: Any]
            }
            data["runs"] = result.items.map { run -> [String: Any] in
                [
                    "id": run.id.uuidString.lowercased(), "created": Self.dateTime(run.createdAt), "agent": run.agentID, "goal": run.goal,
                    "status": run.status.rawValue, "badge": Self.badge(run.status), "steps": run.stepCount,
                ]
            }
            return try page("runs", data)
        }
    }

    @Sendable func run(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await signedPage(request, context) { signed in
            let (tenant, _) = try await scope.tenant(signed.context, .readDecisions)
            let id = try signed.context.id("run", .runNotFound, "run")
            let timeline = try await services.runs.timeline(tenant: tenant, id: id)
            let run = timeline.run
            let slug = tenant.slug
            func labels(_ labels: [String: DataLabel]) -> [[String: String]] {
                labels.sorted { $0.key < $1.key }.map { ["path": $0.key, "label": $0.value.rawValue] }
            }
            var entries: [(Date, Int, [String: Any])] = []
            for step in timeline.steps {
                entries.append(
                    (
                        step.startedAt, 0,
                        [
                            "kind": step.kind.rawValue, "badge": step.kind == .error ? "deny" : "", "title": "step \(step.sequence)",
                            "at": Self.dateTime(step.startedAt), "labels": labels(step.labels), "hasLabels": !step.labels.isEmpty,
                            "body": Self.pretty(.object(step.data)),
                        ]
                    ))
            }
            for decision in timeline.decisions {
                entries.append(
                    (
                        decision.createdAt, 1,
                        [
                            "kind": "decision", "badge": decision.effect.rawValue,
                            "title":
                                "\(decision.tool) · \(decision.action): \(decision.effect.rawValue) (\(decision.reasons.joined(separator: ", ")))",
                            "at": Self.dateTime(decision.createdAt), "labels": labels(decision.labels), "hasLabels": !decision.labels.isEmpty,
                            "link": "/console/tenants/\(slug)/decisions/\(decision.id.uuidString.lowercased())",
                        ]
                    ))
            }
            for approval in timeline.approvals {
                entries.append(
                    (
                        approval.createdAt, 2,
                        [
                            "kind": "approval", "badge": approval.status == .approved ? "allow" : approval.status.isResolved ? "deny" : "pending",
                            "title":
                                "\(approval.tool) · \(approval.action): \(approval.status.rawValue) (\(approval.approvals.count) of \(approval.approvalsNeeded))",
                            "at": Self.dateTime(approval.createdAt), "labels": labels(approval.labels), "hasLabels": !approval.labels.isEmpty,
                            "link": "/console/tenants/\(slug)/approvals/\(approval.id.uuidString.lowercased())",
                        ]
                    ))
            }
            for annotation in timeline.annotations {
                entries.append(
                    (
                        annotation.createdAt, 3,
                        [
                            "kind": annotation.kind.rawValue, "badge": "", "title": annotation.text, "at": Self.dateTime(annotation.createdAt),
                            "labels": [[String: String]](), "hasLabels": false,
                        ]
                    ))
            }
            for compensation in timeline.compensations {
                entries.append(
                    (
                        compensation.createdAt, 4,
                        [
                            "kind": "compensation", "badge": "",
                            "title":
                                "\(compensation.compensationTool ?? compensation.tool) for step \(compensation.stepSequence): \(compensation.status.rawValue)",
                            "at": Self.dateTime(compensation.createdAt), "labels": [[String: String]](), "hasLabels": false,
                        ]
                    ))
            }
            let ordered = entries.enumerated().sorted { ($0.element.0, $0.element.1, $0.offset) < ($1.element.0, $1.element.1, $1.offset) }
            var shown: [String: Any] = [
                "id": run.id.uuidString.lowercased(), "goal": run.goal, "agent": run.agentID, "status": run.status.rawValue,
                "badge": Self.badge(run.status), "created": Self.dateTime(run.createdAt), "steps": timeline.steps.count,
                "decisions": timeline.decisions.count, "approvals": timeline.approvals.count,
            ]
            if let ended = run.endedAt { shown["ended"] = Self.dateTime(ended) }
            if let reason = run.endReason { shown["endReason"] = reason }
            var data = try await base(signed, title: "Run · \(run.goal)", nav: "runs", tenant: tenant)
            data["run"] = shown
            data["entries"] = ordered.map(\.element.2)
            return try page("run", data)
        }
    }

    // MARK: Live updates

    /// The tenant's event stream for the session (the same stream as `GET /v1/tenants/{t}/events`),
    /// which the pages' script follows to show changes as they happen.
    @Sendable func events(_ request: Request, context: WardenRequestContext) async throws -> Response {
        guard let signed = try await signedIn(request, context) else { throw WardenError(.unauthenticated, "sign in to the console first") }
        return try await EventController(
            scope: TenantScope(snapshots: services.snapshots), store: store, hub: services.hub, heartbeat: services.eventHeartbeat
        ).stream(request, context: signed.context)
    }

    // MARK: Provenance

    /// `?record=ID` shows the record's manifest (issued on first request); `&verify=1` checks it.
    @Sendable func provenance(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await signedPage(request, context) { signed in
            let (tenant, principal) = try await scope.tenant(signed.context, .readAudit)
            var data = try await base(signed, title: "Provenance · \(tenant.slug)", nav: "provenance", tenant: tenant)
            let record = request.uri.queryParameters.get("record").map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
            data["record"] = record
            guard !record.isEmpty else { return try page("provenance", data) }
            let notFound = WardenError(.provenanceNotFound, "no decision or tool call '\(record)' in \(tenant.slug)")
            guard let id = UUID(uuidString: record) else { throw notFound }
            let manifest = try await services.provenance.manifest(by: principal, recordID: id)
            guard manifest.tenantID == tenant.id else { throw notFound }
            var shown: [String: Any] = [
                "subject": manifest.subject.rawValue, "recordID": manifest.recordID, "signedAt": Self.dateTime(manifest.signedAt),
                "keyID": manifest.envelope.keyID,
                "statement": Self.pretty(JSONValue.parse(String(decoding: manifest.envelope.payload, as: UTF8.self)) ?? .null),
            ]
            if request.uri.queryParameters.get("verify") == "1" {
                let result = try await services.provenance.verify(by: principal, recordID: id)
                var verification: [String: Any] = ["valid": result.valid, "reason": result.reason]
                if let sequence = result.sequence { verification["sequence"] = sequence }
                if let checkpoint = result.checkpointSequence { verification["checkpoint"] = "entry \(checkpoint)" }
                shown["verification"] = verification
            }
            data["manifest"] = shown
            return try page("provenance", data)
        }
    }

    /// Decisions per minute over the last hour as stacked bars (allowed, needing approval, denied), an
    /// inline SVG built from numbers only, so it is safe to insert unescaped.
    static func chart(_ minutes: [String: DecisionSummary], now: Date) -> String {
        // The minute as the database's own timestamps begin (what `perMinute` groups by).
        let slots = (0..<60).map { offset in
            minutes[String(Timestamp.format(now.addingTimeInterval(Double(offset - 59) * 60)).prefix(16))] ?? DecisionSummary()
        }
        let peak = max(1, slots.map(\.total).max() ?? 1)
        let height = 40.0
        var bars = ""
        for (index, slot) in slots.enumerated() {
            var y = height
            for (count, color) in [(slot.allow, "#067647"), (slot.requireApproval, "#b54708"), (slot.deny, "#b42318")] where count > 0 {
                let h = Double(count) / Double(peak) * height
                y -= h
                bars +=
                    "<rect x=\"\(index * 2)\" y=\"\(String(format: "%.2f", y))\" width=\"1.6\" height=\"\(String(format: "%.2f", h))\" fill=\"\(color)\"/>"
            }
        }
        return "<svg class=\"chart\" viewBox=\"0 0 120 40\" preserveAspectRatio=\"none\" width=\"100%\" height=\"48\" role=\"img\" "
            + "aria-label=\"Decisions per minute over the last hour, at most \(peak) a minute\"><title>Decisions per minute, last hour "
            + "(peak \(peak))</title>\(bars)</svg>"
    }

    static func badge(_ status: RunStatus) -> String {
        switch status {
        case .running: "pending"
        case .completed: "allow"
        case .failed, .cancelled: "deny"
        }
    }

    static func plain(_ value: Double) -> String { value.rounded() == value ? String(Int64(value)) : String(value) }

    // MARK: Bundles

    @Sendable func bundles(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await signedPage(request, context) { signed in
            try await bundlesPage(signed, flash: Self.notice(request))
        }
    }

    private func bundlesPage(_ signed: Signed, flash: [String: Any]?, status: HTTPResponse.Status = .ok) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(signed.context, .readBundles)
        let listed = try await services.bundles.list(
            by: principal, tenant: tenant, version: nil, activeOnly: false, page: PageRequest(limit: PageRequest.maximumLimit)
        ).items
        var canaries: [[String: Any]] = []
        for bundle in listed where bundle.status.isCanary {
            let canary = try await services.bundles.canaryStatus(by: principal, tenant: tenant, id: bundle.id)
            canaries.append([
                "id": bundle.id.uuidString.lowercased(), "version": "\(bundle.version)", "share": bundle.status.share, "passed": canary.passed,
                "timeInStage": Self.duration(canary.timeInStage), "minimumStage": Self.duration(canary.minimumStageTime),
                "canarySamples": canary.canary.samples, "baselineSamples": canary.baseline.samples,
                "gates": canary.gates.map { gate -> [String: Any] in
                    [
                        "name": gate.name, "value": gate.value.map { Self.number($0, count: gate.name.contains("sample")) } ?? "—",
                        "threshold": Self.number(gate.threshold, count: gate.name.contains("sample")),
                        "passed": gate.passed,
                    ]
                },
            ])
        }
        let approve = principal.has(.approveBundles)
        let activate = principal.has(.activateBundles)
        let rows = listed.map { bundle -> [String: Any] in
            var actions: [[String: Any]] = []
            func action(_ verb: String, _ label: String, to: String? = nil, style: String = "primary", force: Bool = false, reason: Bool = false) {
                var entry: [String: Any] = ["verb": verb, "label": label, "style": style, "force": force, "reasonRequired": reason]
                if let to { entry["to"] = to }
                actions.append(entry)
            }
            switch bundle.status {
            case .draft where approve: action("approve", "Approve")
            case .approved where activate:
                action("promote", "Start canary (10 %)", to: BundleStatus.canary10.rawValue)
                action("promote", "Activate now", to: BundleStatus.active.rawValue, style: "danger", force: true, reason: true)
            case .canary10 where activate:
                action("promote", "Promote to 50 %", to: BundleStatus.canary50.rawValue, force: true)
                action("rollback", "Roll back", style: "danger", reason: true)
            case .canary50 where activate:
                action("promote", "Promote to active", to: BundleStatus.active.rawValue, force: true)
                action("rollback", "Roll back", style: "danger", reason: true)
            case .active where activate: action("rollback", "Roll back", style: "danger", reason: true)
            default: break
            }
            var row: [String: Any] = [
                "id": bundle.id.uuidString.lowercased(), "version": "\(bundle.version)", "status": bundle.status.rawValue,
                "badge": bundle.status == .active ? "active" : bundle.status.isCanary ? "pending" : "",
                "created": Self.dateTime(bundle.createdAt), "createdBy": bundle.createdBy,
                "activated": bundle.activatedAt.map(Self.dateTime) ?? "", "actions": actions,
            ]
            if let notes = bundle.notes { row["notes"] = notes }
            if let reason = bundle.rollbackReason { row["rollbackReason"] = reason }
            return row
        }
        var data = try await base(signed, title: "Bundles · \(tenant.slug)", nav: "bundles", tenant: tenant)
        data["bundles"] = rows
        data["canaries"] = canaries
        if let flash { data["flash"] = flash }
        return try page("bundles", data, status: status)
    }

    /// Approve, promote or roll back a bundle from its row, then back to the list.
    @Sendable func moveBundle(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await signedPage(request, context) { signed in
            let form = try await checkCSRF(request, signed)
            let verb = try signed.context.parameters.require("verb")
            let permission: Permission = verb == "approve" ? .approveBundles : .activateBundles
            let (tenant, principal) = try await scope.tenant(signed.context, permission)
            let id = try signed.context.id("id", .bundleNotFound, "bundle")
            let reason = form["reason"].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
            do {
                let moved: PolicyBundle
                switch verb {
                case "approve":
                    moved = try await services.bundles.approve(by: principal, tenant: tenant, id: id, reason: reason)
                case "promote":
                    guard let target = form["to"].flatMap(BundleStatus.init(rawValue:)) else {
                        throw WardenError(.invalidField, "to must be canary_10, canary_50 or active")
                    }
                    moved = try await services.bundles.promote(
                        by: principal, tenant: tenant, id: id, to: target, reason: reason, force: form["force"] == "true")
                case "rollback":
                    moved = try await services.bundles.rollback(by: principal, tenant: tenant, id: id, reason: reason, rolledBackBy: nil).bundle
                default:
                    throw WardenError(.notFound, "no bundle action '\(verb)'")
                }
                return Self.redirect(
                    "/console/tenants/\(tenant.slug)/bundles?done=bundle_\(moved.status.rawValue)&tool=\(Self.query("\(moved.version)"))")
            } catch let error as WardenError where error.code.isConflict || error.code.isBadRequest {
                return try await bundlesPage(
                    signed, flash: ["kind": "error", "message": error.message], status: ErrorMiddleware<WardenRequestContext>.status(for: error.code))
            }
        }
    }

    /// `2 h 05 min`, `40 s`.
    static func duration(_ seconds: TimeInterval) -> String {
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total) s" }
        if total < 3600 { return "\(total / 60) min" }
        return String(format: "%d h %02d min", total / 3600, total % 3600 / 60)
    }

    /// A gate's figure: a count as a whole number, a rate as a percentage.
    static func number(_ value: Double, count: Bool) -> String {
        count ? String(Int64(value.rounded())) : String(format: "%.1f %%", value * 100)
    }

    /// A JSON value as indented text, keys sorted.
    static func pretty(_ value: JSONValue) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(value.canonicalText.utf8), options: [.fragmentsAllowed]),
            let data = try? JSONSerialization.data(
                withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
        else { return value.canonicalText }
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: Sessions, CSRF, rendering

    func signedIn(_ request: Request, _ context: WardenRequestContext) async throws -> Signed? {
        guard let token = request.cookies[Self.sessionCookie]?.value, !token.isEmpty,
            let (session, principal) = try await sessions.resolve(token: token)
        else { return nil }
        var context = context
        context.principal = principal
        context.logger[metadataKey: "auth.key_id"] = "\(principal.keyID.uuidString.lowercased())"
        return Signed(session: session, principal: principal, context: context)
    }

    /// The posted form, once its CSRF token matched the session's (403 otherwise).
    @discardableResult
    func checkCSRF(_ request: Request, _ signed: Signed) async throws -> [String: String] {
        let form = try await Self.form(request, context: signed.context)
        guard let given = form["csrf"], ConstantTime.equal(given, signed.session.csrf) else {
            throw WardenError(.forbidden, "the form's CSRF token does not match your session; reload the page and try again")
        }
        return form
    }

    var scope: TenantScope { TenantScope(snapshots: services.snapshots) }

    /// A page for a signed-in session (else the sign-in page), rendered by `body`.
    func signedPage(_ request: Request, _ context: WardenRequestContext, _ body: (Signed) async throws -> Response) async throws -> Response {
        guard let signed = try await signedIn(request, context) else { return Self.redirect("/console/login") }
        return try await rendered(signed) { try await body(signed) }
    }

    /// Runs a signed-in page; a Warden error becomes an error page with its status, not JSON.
    func rendered(_ signed: Signed, _ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as WardenError {
            let status = ErrorMiddleware<WardenRequestContext>.status(for: error.code)
            var data = (try? await base(signed, title: "Error", nav: "", tenant: nil)) ?? [:]
            data["heading"] = status.reasonPhrase
            data["message"] = error.message
            return try page("error", data, status: status)
        }
    }

    func base(_ signed: Signed, title: String, nav: String, tenant: Tenant?) async throws -> [String: Any] {
        var data: [String: Any] = [
            "title": title, "signedIn": true, "csrf": signed.session.csrf, "nav": [nav: true],
            "who": "\(signed.principal.keyName) · \(signed.principal.role.rawValue)\(signed.principal.tenantID == nil ? " · all tenants" : "")",
        ]
        if let tenant {
            // The page's script follows the tenant's events from the last one this page reflects.
            let tenantID = tenant.id
            let last = try await store.read { try await $0.events.latestSequence(tenantID: tenantID) }
            data["tenant"] = ["slug": tenant.slug, "lastEvent": last]
        }
        return data
    }

    func page(_ template: String, _ data: [String: Any], status: HTTPResponse.Status = .ok) throws -> Response {
        // Only the page's own scripts run: each carries this response's nonce.
        let nonce = ConsoleSessionService.randomText(SystemRandomSource(), bytes: 16)
        var data = data
        data["nonce"] = nonce
        guard let html = library.render(data, withTemplate: template) else {
            throw WardenError(.internalError, "console template '\(template)' is missing")
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("Content-Security-Policy")!] =
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-\(nonce)'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// A console cookie: HttpOnly, SameSite=Strict, for `/console` only, and Secure when the request
    /// came over TLS (directly or, as `X-Forwarded-Proto` says, through a proxy).
    static func cookie(_ name: String, _ value: String, request: Request, maxAge: Int) -> Cookie {
        let tls = request.uri.scheme == .https || request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
        return Cookie(name: name, value: value, maxAge: maxAge, path: "/console", secure: tls, httpOnly: true, sameSite: .strict)
    }

    static func form(_ request: Request, context: WardenRequestContext) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        var fields: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String { (text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding) ?? "" }
            guard let key = parts.first else { continue }
            fields[decode(key)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    /// `date` in UTC as `pattern` (a `DateFormatter` pattern) writes it.
    static func utc(_ date: Date, _ pattern: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = pattern
        return formatter.string(from: date)
    }

    /// `2026-11-24 04:49:41 UTC`.
    static func dateTime(_ date: Date) -> String { utc(date, "yyyy-MM-dd HH:mm:ss 'UTC'") }

    /// `04:49:41 UTC`: when a page's figures were read.
    static func clockTime(_ date: Date) -> String { utc(date, "HH:mm:ss 'UTC'") }

    static func percent(_ value: Double) -> String { String(format: "%.1f %%", value * 100) }

    static func query(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }

    /// The notice a redirect after an action asks for (`?done=killed&tool=refund`); fixed wording.
    static func notice(_ request: Request) -> [String: Any]? {
        guard let done = request.uri.queryParameters.get("done") else { return nil }
        let tool = request.uri.queryParameters.get("tool").map { String($0) } ?? ""
        let message: String
        switch done {
        case "killed": message = "Killed \(tool): its decisions are denied from now on."
        case "restored": message = "Restored \(tool)."
        case "approved": message = "Approved."
        case "rejected": message = "Rejected."
        case "voted": message = "Your approval is counted; the request needs another approver."
        case "bundle_approved": message = "Approved bundle \(tool)."
        case "bundle_canary_10", "bundle_canary_50": message = "Bundle \(tool) is in canary (\(done.hasSuffix("10") ? 10 : 50) % of decisions)."
        case "bundle_active": message = "Bundle \(tool) is active."
        case "bundle_archived": message = "Rolled back bundle \(tool)."
        default: return nil
        }
        return ["kind": "notice", "message": message]
    }
}

extension ConsoleController {
    /// The console's templates (`Resources/console/*.mustache`), parsed once. A template that does
    /// not parse is a build mistake; the console test renders every one.
    static let templates: MustacheLibrary = {
        var library = MustacheLibrary()
        guard let folder = Bundle.module.url(forResource: "console", withExtension: nil),
            let files = try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
        else { return library }
        for file in files where file.pathExtension == "mustache" {
            if let text = try? String(contentsOf: file, encoding: .utf8) {
                try? library.register(text, named: file.deletingPathExtension().lastPathComponent)
            }
        }
        return library
    }()
}
