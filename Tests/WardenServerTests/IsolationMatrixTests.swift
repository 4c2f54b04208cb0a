import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import WardenCore

@testable import WardenServer

/// Tenant isolation and roles, for every endpoint the OpenAPI document lists (which
/// `OpenAPITests` keeps equal to the routes served): another tenant's admin gets 404 or 403 and none
/// of this tenant's data; an auditor (read-only) gets 403 from every endpoint that changes anything.
@Suite struct IsolationMatrixTests {
    struct Route: Hashable {
        var method: String
        var path: String
    }

    static func routes() throws -> [Route] {
        let document = try #require(try JSONSerialization.jsonObject(with: OpenAPIDocument.data()) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        return paths.flatMap { path, operations in
            operations.keys.filter { ["get", "post", "put", "patch", "delete"].contains($0) }.map { Route(method: $0.uppercased(), path: path) }
        }.sorted { ($0.path, $0.method) < ($1.path, $1.method) }
    }

    /// A well-formed body for each route that takes one, so what answers is the tenant and role check
    /// and not the body's validation; `{}` for the others.
    static let bodies: [String: String] = [
        "PATCH /v1/tenants/{tenant}": #"{"default_effect":"deny","reason":"intrusion"}"#,
        "PATCH /v1/tenants/{tenant}/bundles/{bundle}": #"{"notes":"intrusion"}"#,
        "POST /v1/tenants/{tenant}/agents": #"{"agent_id":"intruder","roles":["support"]}"#,
        "POST /v1/tenants/{tenant}/bundles":
            #"{"version":"9.9.9","modules":{"p.rego":"package warden\n\ndecision := {\"effect\": \"allow\"}\n"},"entrypoint":"data.warden.decision"}"#,
        "POST /v1/tenants/{tenant}/bundles/{bundle}/promote": #"{"to":"canary_10","reason":"intrusion"}"#,
        "POST /v1/tenants/{tenant}/evaluate": #"{"agent":"bot","tool":"refund","action":"create","input":{}}"#,
        "POST /v1/tenants/{tenant}/incidents": #"{"severity":"high","title":"intrusion"}"#,
        "PUT /v1/tenants/{tenant}/limits": #"{"reason":"intrusion","tenant":{"rate":1,"burst":1}}"#,
        "POST /v1/tenants/{tenant}/notifications": #"{"url":"https://hooks.example.com/x","events":["tool.killed"]}"#,
        "POST /v1/tenants/{tenant}/panic": #"{"enabled":true,"reason":"intrusion"}"#,
        "POST /v1/tenants/{tenant}/runs/{run}/annotations": #"{"kind":"note","text":"intrusion"}"#,
        "POST /v1/tenants/{tenant}/tools": #"{"name":"intruder","risk":"low","capabilities":["read"]}"#,
        "POST /v1/tenants/{tenant}/tools/{tool}/ack": #"{"adapter_id":"intruder","state_version":1}"#,
        "POST /v1/api-keys": #"{"name":"intruder","role":"admin","tenant":"acme"}"#,
        "POST /v1/decide": #"{"tenant":"acme","agent":"bot","tool":"refund","action":"create","input":{}}"#,
        "POST /v1/keys/rotate": #"{"purpose":"ledger_checkpoint","reason":"intrusion"}"#,
        "POST /v1/tenants": #"{"slug":"newco"}"#,
    ]

    /// Values that appear only in acme's records, never in a request of this test: a response that
    /// holds one leaked acme's data.
    static let markers = ["marker-input-7731", "marker-goal-5512", "marker-notes-9034"]

    @Test(arguments: Backend.available)
    func anotherTenantsKeyAndAReadOnlyRoleGetNothing(_ backend: Backend) async throws {
        let routes = try Self.routes()
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client, approvalLevel: "manual_approve")
            let decided = try await client.send(
                .post, "/v1/decide", token: demo.token,
                json: #"{"tool":"refund","action":"create","input":{"note":"\#(Self.markers[0])"}}"#)
            let decision = try #require(try decided.object()["decision_id"] as? String)
            let approval = try #require(try decided.object()["approval_id"] as? String)
            let run = try #require(
                try await client.send(.post, "/v1/tenants/acme/runs", token: demo.token, json: #"{"goal":"\#(Self.markers[1])"}"#).object()["id"]
                    as? String)
            var bundleJSON = RolloutAPITests.bundle("1.0.0")
            bundleJSON.removeLast()
            bundleJSON += #","notes":"\#(Self.markers[2])"}"#
            let created = try await client.send(.post, "/v1/tenants/acme/bundles", json: bundleJSON)
            let bundle = try #require(try created.object()["id"] as? String, "\(created.text)")
            let notification = try #require(
                try await client.send(
                    .post, "/v1/tenants/acme/notifications", json: #"{"url":"https://hooks.example.com/acme","events":["tool.killed"]}"#
                ).object()["id"] as? String)
            let acmeKey = try await ConsoleTests.key(client, role: "operator", tenant: "acme")
            let auditor = try await ConsoleTests.key(client, role: "auditor", tenant: "acme")
            #expect(try await client.send(.post, "/v1/tenants", json: #"{"slug":"other"}"#).status == .created)
            let intruder = try await ConsoleTests.key(client, role: "admin", tenant: "other")

            func concrete(_ path: String) -> String {
                var result = path.replacingOccurrences(of: "{tenant}", with: "acme").replacingOccurrences(of: "{agent}", with: "bot")
                    .replacingOccurrences(of: "{tool}", with: "refund").replacingOccurrences(of: "{bundle}", with: bundle)
                    .replacingOccurrences(of: "{run}", with: run)
                let id: String
                if path.contains("/approvals/") {
                    id = approval
                } else if path.contains("/decisions/") || path.contains("/provenance/") {
                    id = decision
                } else if path.contains("/notifications/") {
                    id = notification
                } else if path.contains("/tokens/") {
                    id = demo.tokenID
                } else if path.contains("/api-keys/") {
                    id = acmeKey.id
                } else {
                    id = UUID().uuidString.lowercased()
                }
                result = result.replacingOccurrences(of: "{id}", with: id)
                return result
            }
            func send(_ route: Route, token: String) async throws -> TestResponse {
                let method = HTTPRequest.Method(route.method)!
                let body =
                    route.method == "GET" || route.method == "DELETE"
                    ? nil : Self.bodies["\(route.method) \(route.path)"] ?? #"{"reason":"intrusion"}"#
                // The event stream answers 200 and stays open; its check is its own (below).
                return try await client.send(method, concrete(route.path), token: token, json: body)
            }

            // Another tenant's admin: every acme route, and the id-addressed global ones, are closed.
            var leaks: [String] = []
            for route in routes where route.path.contains("{tenant}") || route.path.contains("{id}") {
                guard !route.path.hasSuffix("/events") else { continue }
                let response = try await send(route, token: intruder.key)
                let text = response.text
                let echoedOnly =
                    !Self.markers.contains { text.contains($0) }
                    && [decision, approval, run, bundle, notification].allSatisfy { !text.contains($0) || concrete(route.path).contains($0) }
                if ![.notFound, .forbidden].contains(response.status) || !echoedOnly {
                    leaks.append("\(route.method) \(route.path): \(response.status.code) \(text.prefix(160))")
                }
            }
            #expect(leaks.isEmpty, "another tenant's admin reached acme: \(leaks.joined(separator: "\n"))")
            let events = try await client.send(.get, "/v1/tenants/acme/events", token: intruder.key)
            #expect(events.status == .notFound)

            // An auditor reads; every endpoint that changes something refuses it. The exceptions
            // change nothing (they check or simulate), or add a note to a run, which any key that
            // reads decisions may (docs/API.md).
            let readOnly: Set<String> = [
                "POST /v1/tenants/{tenant}/runs/{run}/annotations",
                "POST /v1/provenance/verify", "POST /v1/tenants/{tenant}/bundles/{bundle}/check-gates",
                "POST /v1/tenants/{tenant}/bundles/{bundle}/simulate", "POST /v1/tenants/{tenant}/evaluate",
            ]
            var allowed: [String] = []
            for route in routes where route.method != "GET" && route.path.hasPrefix("/v1/") {
                let name = "\(route.method) \(route.path)"
                guard !readOnly.contains(name) else { continue }
                let response = try await send(route, token: auditor.key)
                if response.status != .forbidden { allowed.append("\(name): \(response.status.code) \(response.text.prefix(160))") }
            }
            #expect(allowed.isEmpty, "an auditor was not refused: \(allowed.joined(separator: "\n"))")
            // Nothing an auditor or the intruder sent changed acme's tools.
            let tool = try await client.send(.get, "/v1/tenants/acme/tools/refund").object()
            #expect(tool["is_active"] as? Bool == true)
        }
    }
}
