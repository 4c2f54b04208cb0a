import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing
import WardenCore

@testable import WardenServer

/// The console over HTTP (the browser test, `scripts/console-browser`, drives the same pages in
/// Chromium): sign-in, its cookies and CSRF, role and tenant scoping, kill and restore from a form,
/// sign-out, and a revoked key ending its sessions.
@Suite struct ConsoleTests {
    /// A browser of one: keeps the console's cookies between requests.
    final class Browser: @unchecked Sendable {
        let client: any TestClientProtocol
        var cookies: [String: String] = [:]

        init(_ client: any TestClientProtocol) { self.client = client }

        @discardableResult
        func get(_ path: String) async throws -> TestResponse { try await send(.get, path, form: nil) }

        @discardableResult
        func post(_ path: String, _ form: [String: String], headers: HTTPFields = [:]) async throws -> TestResponse {
            try await send(.post, path, form: form, headers: headers)
        }

        func send(_ method: HTTPRequest.Method, _ path: String, form: [String: String]?, headers extra: HTTPFields = [:]) async throws
            -> TestResponse
        {
            var headers = extra
            if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
            var body: ByteBuffer?
            if let form {
                headers[.contentType] = "application/x-www-form-urlencoded"
                let text = form.map { key, value in
                    "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
                }.joined(separator: "&")
                body = ByteBuffer(string: text)
            }
            let response = try await client.execute(uri: path, method: method, headers: headers, body: body)
            for header in response.headers[values: .setCookie] {
                let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = String(pair[0])
                let value = pair.count > 1 ? String(pair[1]) : ""
                if value.isEmpty || header.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
            }
            return response
        }

        /// The CSRF token of the page's forms.
        static func csrf(_ page: TestResponse) throws -> String {
            let text = page.text
            let marker = #"name="csrf" value=""#
            let start = try #require(text.range(of: marker), "no form on \(text.prefix(300))").upperBound
            return String(text[start...].prefix { $0 != "\"" })
        }

        func signIn(_ key: String) async throws -> TestResponse {
            let form = try await get("/console/login")
            return try await post("/console/login", ["csrf": try Self.csrf(form), "key": key])
        }
    }

    static func key(_ client: some TestClientProtocol, role: String, tenant: String) async throws -> (id: String, key: String) {
        let created = try await client.send(.post, "/v1/api-keys", json: #"{"name":"\#(role)-key","role":"\#(role)","tenant":"\#(tenant)"}"#)
        let object = try created.object()
        return (try #require(object["id"] as? String), try #require(object["key"] as? String))
    }

    @Test(arguments: Backend.available)
    func signInCookiesAndCSRF(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            _ = try await Demo.setUp(client).decide(client)
            let browser = Browser(client)
            let anonymous = try await browser.get("/console")
            #expect(anonymous.status == .seeOther && anonymous.headers[.location] == "/console/login")
            let form = try await browser.get("/console/login")
            #expect(form.status == .ok)
            #expect(form.headers[.contentType] == "text/html; charset=utf-8")
            let policy = try #require(form.headers[HTTPField.Name("Content-Security-Policy")!])
            #expect(
                policy.contains("frame-ancestors 'none'") && policy.contains("script-src 'nonce-") && !policy.contains("script-src 'unsafe-inline'"))
            #expect(form.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(form.headers[.cacheControl] == "no-store")
            let loginCookie = try #require(form.headers[values: .setCookie].first { $0.hasPrefix("warden_login=") })
            #expect(loginCookie.contains("HttpOnly") && loginCookie.contains("SameSite=Strict") && loginCookie.contains("Path=/console"))

            // The login form's token must match its cookie (another site's form has neither).
            let forged = try await browser.post("/console/login", ["csrf": "forged", "key": TestApp.adminToken])
            #expect(forged.status == .forbidden)
            #expect(browser.cookies["warden_session"] == nil)
            let wrong = try await browser.signIn("wdn_not-a-key")
            #expect(wrong.status == .unauthorized && wrong.text.contains("not valid"))
            #expect(browser.cookies["warden_session"] == nil)

            let signedIn = try await browser.signIn(TestApp.adminToken)
            #expect(signedIn.status == .seeOther && signedIn.headers[.location] == "/console")
            let session = try #require(signedIn.headers[values: .setCookie].first { $0.hasPrefix("warden_session=wcs_") })
            #expect(session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Path=/console"))
            #expect(!session.contains("Secure"), "served over plain HTTP")
            let overview = try await browser.get("/console")
            #expect(overview.status == .ok && overview.text.contains(#"data-tenant="acme""#), "\(overview.text.prefix(500))")
            #expect(overview.text.contains(#"<svg class="chart""#) && overview.text.contains("<rect x="), "the chart has the decisions")
            #expect(!overview.text.contains(TestApp.adminToken), "the key is never echoed")

            // Behind a TLS proxy the session cookie is Secure.
            let tls = Browser(client)
            let tlsForm = try await tls.get("/console/login")
            let secured = try await tls.post(
                "/console/login", ["csrf": try Browser.csrf(tlsForm), "key": TestApp.adminToken],
                headers: [HTTPField.Name("X-Forwarded-Proto")!: "https"])
            #expect(secured.headers[values: .setCookie].contains { $0.hasPrefix("warden_session=") && $0.contains("Secure") })

            // Every form needs the session's CSRF token: without it nothing changes.
            let noToken = try await browser.post("/console/tenants/acme/tools/refund/kill", ["reason": "no token"])
            #expect(noToken.status == .forbidden && noToken.text.contains("CSRF"))
            let tool = try await client.send(.get, "/v1/tenants/acme/tools/refund").object()
            #expect(tool["is_active"] as? Bool == true)

            // Signing out ends the session for good: the old cookie is refused afterwards.
            let cookie = try #require(browser.cookies["warden_session"])
            let out = try await browser.post("/console/logout", ["csrf": try Browser.csrf(overview)])
            #expect(out.status == .seeOther && out.headers[.location] == "/console/login")
            let replayed = Browser(client)
            replayed.cookies["warden_session"] = cookie
            #expect(try await replayed.get("/console").headers[.location] == "/console/login")
            let audit = try await client.send(.get, "/v1/audit-events?limit=100").array("items").compactMap { $0["action"] as? String }
            #expect(audit.contains("console.signed_in") && audit.contains("console.signed_out"))
        }
    }

    @Test(arguments: Backend.available)
    func rolesAndTenantsScopeWhatASessionSeesAndDoes(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)
            #expect(try await client.send(.post, "/v1/tenants", json: #"{"slug":"other"}"#).status == .created)
            // An operator of acme: sees acme only, kills and restores its tools.
            let operatorKey = try await Self.key(client, role: "operator", tenant: "acme")
            let ops = Browser(client)
            #expect(try await ops.signIn(operatorKey.key).status == .seeOther)
            let overview = try await ops.get("/console")
            #expect(overview.text.contains(#"data-tenant="acme""#) && !overview.text.contains(#"data-tenant="other""#))
            #expect(try await ops.get("/console/tenants/other/tools").status == .notFound)
            let tools = try await ops.get("/console/tenants/acme/tools")
            #expect(tools.status == .ok && tools.text.contains(#"data-tool="refund""#))
            let csrf = try Browser.csrf(tools)
            let empty = try await ops.post("/console/tenants/acme/tools/refund/kill", ["csrf": csrf, "reason": " "])
            #expect(empty.status == .badRequest && empty.text.contains("reason"), "\(empty.text.prefix(300))")
            let killed = try await ops.post("/console/tenants/acme/tools/refund/kill", ["csrf": csrf, "reason": "INC-9"])
            #expect(killed.status == .seeOther, "\(killed.text.prefix(300))")
            #expect(try await ops.get(try #require(killed.headers[.location])).text.contains("Killed refund"))
            #expect(try await demo.decide(client).decision() == ("deny", ["tool_disabled"]))
            #expect(try await ops.post("/console/tenants/acme/tools/refund/restore", ["csrf": csrf, "reason": "fixed"]).status == .seeOther)
            #expect(try await demo.decide(client).decision().0 == "allow")

            // An approver sees the tools but cannot kill them.
            let approverKey = try await Self.key(client, role: "approver", tenant: "acme")
            let approver = Browser(client)
            _ = try await approver.signIn(approverKey.key)
            let seen = try await approver.get("/console/tenants/acme/tools")
            #expect(seen.text.contains("your role cannot kill tools"))
            let refused = try await approver.post("/console/tenants/acme/tools/refund/kill", ["csrf": try Browser.csrf(seen), "reason": "x"])
            #expect(refused.status == .forbidden)
            #expect(try await demo.decide(client).decision().0 == "allow")

            // Revoking the key ends its sessions at the next request.
            #expect(try await client.send(.delete, "/v1/api-keys/\(operatorKey.id)?reason=left").status == .ok)
            #expect(try await ops.get("/console").headers[.location] == "/console/login")
        }
    }

    /// The approvals queue: a two-person request shows its progress, each approver votes once with a
    /// comment kept in the history, and the second approval resolves it.
    @Test(arguments: Backend.available)
    func approvalsAreDecidedFromTheQueue(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client, approvalLevel: "two_person")
            let decided = try await client.send(
                .post, "/v1/decide", token: demo.token,
                json: #"{"tool":"refund","action":"create","input":{"order":42,"card":"4111-1111"},"labels":{"input.card":"secret"}}"#)
            let approvalID = try #require(try decided.object()["approval_id"] as? String)
            let alice = Browser(client)
            _ = try await alice.signIn(try await Self.key(client, role: "approver", tenant: "acme").key)
            let queue = try await alice.get("/console/tenants/acme/approvals")
            #expect(queue.status == .ok && queue.text.contains(#"data-approval="\#(approvalID)""#) && queue.text.contains("0 of 2"))
            let detail = try await alice.get("/console/tenants/acme/approvals/\(approvalID)")
            #expect(detail.text.contains("&quot;order&quot; : 42"), "the input, indented")
            #expect(!detail.text.contains("4111-1111") && detail.text.contains("[redacted secret"), "a secret shows as its fingerprint")
            let csrf = try Browser.csrf(detail)
            let first = try await alice.post(
                "/console/tenants/acme/approvals/\(approvalID)/vote", ["csrf": csrf, "vote": "approve", "comment": "looks right"])
            #expect(first.status == .seeOther)
            let counted = try await alice.get(try #require(first.headers[.location]))
            #expect(counted.text.contains("needs another approver") && counted.text.contains("1 of 2") && counted.text.contains("looks right"))
            // The same approver again: refused, said on the page.
            let again = try await alice.post("/console/tenants/acme/approvals/\(approvalID)/vote", ["csrf": csrf, "vote": "approve"])
            #expect(again.status == .conflict, "\(again.text.prefix(300))")
            let bob = Browser(client)
            _ = try await bob.signIn(try await Self.key(client, role: "approver", tenant: "acme").key)
            let page = try await bob.get("/console/tenants/acme/approvals/\(approvalID)")
            let second = try await bob.post(
                "/console/tenants/acme/approvals/\(approvalID)/vote", ["csrf": try Browser.csrf(page), "vote": "approve", "comment": "ok"])
            #expect(try await bob.get(try #require(second.headers[.location])).text.contains("Approved."))
            let shown = try await client.send(.get, "/v1/tenants/acme/approvals/\(approvalID)").object()
            #expect(shown["status"] as? String == "approved")
            #expect(try await bob.get("/console/tenants/acme/approvals?status=bogus").status == .badRequest)
        }
    }

    /// Bundles: a draft approved by someone other than its author, a canary started with its gates
    /// shown (value and threshold each), and rolled back from its row; the active bundle stays.
    @Test(arguments: Backend.available)
    func bundlesAreApprovedCanariedAndRolledBack(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            _ = try await Demo.setUp(client)
            let v1 = try await RolloutAPITests.approved(client, "1.0.0")
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(v1)/activate").status == .ok)
            let created = try await client.send(.post, "/v1/tenants/acme/bundles", json: RolloutAPITests.bundle("1.1.0"))
            let v2 = try #require(try created.object()["id"] as? String)

            // The admin wrote it, so an approver approves it.
            let approver = Browser(client)
            _ = try await approver.signIn(try await Self.key(client, role: "approver", tenant: "acme").key)
            let listed = try await approver.get("/console/tenants/acme/bundles")
            #expect(listed.text.contains(#"data-version="1.1.0""#) && listed.text.contains(#"data-action="Approve""#))
            let approved = try await approver.post(
                "/console/tenants/acme/bundles/\(v2)/approve", ["csrf": try Browser.csrf(listed), "reason": "reviewed"])
            #expect(approved.status == .seeOther, "\(approved.text.prefix(300))")

            let admin = Browser(client)
            _ = try await admin.signIn(TestApp.adminToken)
            let page = try await admin.get("/console/tenants/acme/bundles")
            let csrf = try Browser.csrf(page)
            let canary = try await admin.post("/console/tenants/acme/bundles/\(v2)/promote", ["csrf": csrf, "to": "canary_10", "reason": "start"])
            #expect(canary.status == .seeOther, "\(canary.text.prefix(300))")
            let status = try await admin.get(try #require(canary.headers[.location]))
            #expect(status.text.contains("is in canary (10 % of decisions)"))
            #expect(status.text.contains("gates failing") && status.text.contains(#"data-gate="min_samples""#))
            #expect(status.text.contains("<td>min_samples</td><td>0</td><td>100</td>"), "value and threshold of each gate")
            // Promoting without the gates passing (and without force) is refused, on the page.
            let early = try await admin.post("/console/tenants/acme/bundles/\(v2)/promote", ["csrf": csrf, "to": "canary_50"])
            #expect(early.status == .conflict, "\(early.text.prefix(300))")
            let noReason = try await admin.post("/console/tenants/acme/bundles/\(v2)/rollback", ["csrf": csrf, "reason": ""])
            #expect(noReason.status == .badRequest)
            let rolled = try await admin.post("/console/tenants/acme/bundles/\(v2)/rollback", ["csrf": csrf, "reason": "deny spike"])
            #expect(try await admin.get(try #require(rolled.headers[.location])).text.contains("Rolled back bundle 1.1.0"))
            let active = try await client.send(.get, "/v1/tenants/acme/bundles?active_only=true").array("items")
            #expect(active.map { $0["version"] as? String } == ["1.0.0"])
            let shown = try await client.send(.get, "/v1/tenants/acme/bundles/\(v2)").object()
            #expect(shown["status"] as? String == "archived" && shown["rollback_reason"] as? String == "deny spike")
        }
    }

    /// Decisions: filtered by effect and tool, paged, and one decision's whole record.
    @Test(arguments: Backend.available)
    func decisionsAreFilteredAndShown(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)
            for _ in 0..<3 { _ = try await demo.decide(client) }
            #expect(try await client.send(.post, "/v1/tenants/acme/tools/refund/kill", json: #"{"reason":"INC-1"}"#).status == .ok)
            let denied = try await client.send(
                .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"order":7},"run_id":"run-9"}"#,
                headers: [HTTPField.Name("traceparent")!: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"])
            let deniedID = try #require(try denied.object()["decision_id"] as? String)
            let browser = Browser(client)
            _ = try await browser.signIn(TestApp.adminToken)
            let all = try await browser.get("/console/tenants/acme/decisions")
            #expect(all.text.components(separatedBy: "data-decision=").count - 1 == 4)
            let deny = try await browser.get("/console/tenants/acme/decisions?effect=deny&tool=refund")
            #expect(deny.text.components(separatedBy: "data-decision=").count - 1 == 1 && deny.text.contains(deniedID))
            #expect(deny.text.contains(#"<option value="deny" selected>"#), "the filter keeps its choice")
            #expect(try await browser.get("/console/tenants/acme/decisions?effect=maybe").status == .badRequest)
            #expect(try await browser.get("/console/tenants/acme/decisions?since=yesterday").status == .badRequest)
            let record = try await browser.get("/console/tenants/acme/decisions/\(deniedID)")
            #expect(record.text.contains("tool_disabled") && record.text.contains("4bf92f3577b34da6a3ce929d0e0e4736"))
            #expect(record.text.contains("run-9") && record.text.contains("&quot;order&quot; : 7"))
            #expect(try await browser.get("/console/tenants/acme/decisions/\(UUID())").status == .notFound)
        }
    }

    /// A run's timeline: its steps with their labels, and the decisions and approvals made with its id.
    @Test(arguments: Backend.available)
    func aRunShowsItsTimelineWithLabels(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client, approvalLevel: "manual_approve")
            let runID = try #require(
                try await client.send(.post, "/v1/tenants/acme/runs", token: demo.token, json: #"{"goal":"refund order 42"}"#).object()["id"]
                    as? String)
            #expect(
                try await client.send(
                    .post, "/v1/tenants/acme/runs/\(runID)/steps", token: demo.token,
                    json: #"{"kind":"tool_call","tool":"lookup","output":{"email":"ann@example.com"},"labels":{"output.email":"pii"}}"#
                ).status == .created)
            let decided = try await demo.decide(client, extra: #","run_id":"\#(runID)""#)
            #expect(try decided.decision().0 == "require_approval")
            let browser = Browser(client)
            _ = try await browser.signIn(TestApp.adminToken)
            let list = try await browser.get("/console/tenants/acme/runs")
            #expect(list.text.contains(#"data-run="\#(runID)""#) && list.text.contains("refund order 42"))
            #expect(try await browser.get("/console/tenants/acme/runs?status=sleeping").status == .badRequest)
            let timeline = try await browser.get("/console/tenants/acme/runs/\(runID)")
            #expect(timeline.status == .ok)
            for kind in ["tool_call", "decision", "approval"] { #expect(timeline.text.contains(#"data-kind="\#(kind)""#), "\(kind)") }
            #expect(timeline.text.contains("<code>output.email</code> <span class=\"badge\">pii</span>"), "the step's label is shown")
            #expect(timeline.text.contains("refund · create: require_approval"))
            #expect(try await browser.get("/console/tenants/acme/runs/\(UUID())").status == .notFound)
        }
    }

    /// Provenance: a decision's manifest is shown with its statement, and the verify button checks it;
    /// after the decision row is changed behind Warden's back, it says so. Another tenant's record is
    /// not found.
    @Test(arguments: Backend.available)
    func aManifestIsShownAndVerified(_ backend: Backend) async throws {
        let box = ProvenanceTests.URLBox()
        let capture: (inout WardenConfiguration) -> Void = { configuration in box.url.withLock { $0 = configuration.databaseURL } }
        try await TestApp.run(backend, configure: capture) { client in
            let demo = try await Demo.setUp(client)
            let decisionID = try #require(try await demo.decide(client).object()["decision_id"] as? String)
            #expect(try await client.send(.post, "/v1/tenants/acme/ledger/checkpoint").status == .ok)
            #expect(try await client.send(.post, "/v1/tenants", json: #"{"slug":"other"}"#).status == .created)
            let browser = Browser(client)
            _ = try await browser.signIn(TestApp.adminToken)
            let record = try await browser.get("/console/tenants/acme/decisions/\(decisionID)")
            #expect(record.text.contains("/console/tenants/acme/provenance?record=\(decisionID)"))
            let shown = try await browser.get("/console/tenants/acme/provenance?record=\(decisionID)")
            #expect(shown.status == .ok && shown.text.contains(#"id="statement""#) && shown.text.contains("https://in-toto.io/Statement"))
            let verified = try await browser.get("/console/tenants/acme/provenance?record=\(decisionID)&verify=1")
            #expect(verified.text.contains("<b>Valid</b>"), "\(verified.text.prefix(2000))")
            #expect(try await browser.get("/console/tenants/other/provenance?record=\(decisionID)").status == .notFound)
            #expect(try await browser.get("/console/tenants/acme/provenance?record=nope").status == .notFound)

            let url = try #require(box.url.withLock { $0 })
            try await ProvenanceTests.execute(url, "UPDATE decisions SET effect = 'deny' WHERE id = '\(decisionID)'")
            let tampered = try await browser.get("/console/tenants/acme/provenance?record=\(decisionID)&verify=1")
            #expect(tampered.text.contains("<b>Not valid</b>"), "\(tampered.text.prefix(2000))")
        }
    }
}
