import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import WardenCore

@testable import WardenServer

/// Decisions, approvals (each change), audit events, runs and run steps join the tenant's chain as
/// they are written; the chain verifies through the API; auditors may check it, approvers may not.
@Suite struct LedgerAPITests {
    @Test(arguments: Backend.available)
    func everyRecordJoinsTheChainAndItVerifies(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client, approvalLevel: "manual_approve")
            let runID = try #require(
                try await client.send(.post, "/v1/tenants/acme/runs", token: demo.token, json: #"{"goal":"g"}"#).object()["id"] as? String)
            _ = try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/steps", token: demo.token, json: #"{"kind":"note","message":"m"}"#)
            let decided = try await client.send(
                .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"order":1},"run_id":"\#(runID)"}"#)
            let approvalID = try #require(try decided.object()["approval_id"] as? String)
            let approver = try #require(
                try await client.send(.post, "/v1/api-keys", json: #"{"name":"a","role":"approver","tenant":"acme"}"#).object()["key"] as? String)
            #expect(try await client.send(.post, "/v1/tenants/acme/approvals/\(approvalID)/approve", token: approver).status == .ok)
            _ = try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/complete", token: demo.token)

            var entries: [[String: Any]] = []
            var after = 0
            while true {
                let page = try await client.send(.get, "/v1/tenants/acme/ledger?after=\(after)&limit=500").object()
                let items = try #require(page["items"] as? [[String: Any]])
                entries += items
                guard let next = page["next_after"] as? Int else { break }
                after = next
            }
            let kinds = entries.compactMap { $0["kind"] as? String }
            #expect(Set(kinds) == ["audit", "run", "run_step", "decision", "approval"], "\(kinds)")
            #expect(entries.compactMap { $0["sequence"] as? Int } == Array(1...entries.count))
            // The approval request: opened, then approved, two entries; the run: opened, then completed.
            #expect(entries.filter { $0["record_id"] as? String == approvalID }.count == 2)
            #expect(entries.filter { $0["record_id"] as? String == runID }.count == 2)
            let verified = try await client.send(.get, "/v1/tenants/acme/ledger/verify").object()
            #expect(verified["valid"] as? Bool == true && verified["entries"] as? Int == entries.count, "\(verified)")
            #expect(verified["head"] as? Int == entries.count)

            let auditor = try #require(
                try await client.send(.post, "/v1/api-keys", json: #"{"name":"au","role":"auditor","tenant":"acme"}"#).object()["key"] as? String)
            #expect(try await client.send(.get, "/v1/tenants/acme/ledger/verify", token: auditor).status == .ok)
            #expect(try await client.send(.get, "/v1/tenants/acme/ledger/verify", token: approver).status == .forbidden)
            #expect(try await client.send(.get, "/v1/tenants/acme/ledger?after=-1").errorCode() == "invalid_field")
        }
    }

    /// The background service signs heads as they become due; an admin signs one at once; the
    /// signature checks out with the public key `GET /v1/keys` lists.
    @Test(arguments: Backend.available)
    func checkpointsAreSignedAndCheckOutWithThePublishedKey(_ backend: Backend) async throws {
        let settings: (inout WardenConfiguration) -> Void = { $0.ledgerCheckpointInterval = 0.2 }
        try await TestApp.run(backend, configure: settings) { client in
            _ = try await Demo.setUp(client)
            // Tenant creation and setup were audited, so the chain has entries: the service signs them.
            #expect(
                try await eventually {
                    !(try await client.send(.get, "/v1/tenants/acme/ledger/checkpoints").object()["items"] as? [Any] ?? []).isEmpty
                })
            _ = try await client.send(.post, "/v1/tenants/acme/agents", json: #"{"agent_id":"late"}"#)
            let signed = try await client.send(.post, "/v1/tenants/acme/ledger/checkpoint")
            #expect(signed.status == .ok, "\(signed.text)")
            let checkpoint = try signed.object()
            let head = try await client.send(.get, "/v1/tenants/acme/ledger/verify").object()
            #expect(head["valid"] as? Bool == true && (head["checkpoints"] as? Int ?? 0) >= 2, "\(head)")
            // The checkpoint signs the head as it was (the background service may have signed it first, in
            // which case that one is answered): it names the hash the chain has at its entry.
            let sequence = try #require(checkpoint["sequence"] as? Int)
            #expect(sequence <= (head["head"] as? Int ?? 0))
            let entry = try #require(
                try await client.send(.get, "/v1/tenants/acme/ledger?after=\(sequence - 1)&limit=1").array("items").first)
            #expect(entry["sequence"] as? Int == sequence && entry["hash"] as? String == checkpoint["hash"] as? String)

            let keys = try #require(try await client.send(.get, "/v1/keys").object()["items"] as? [[String: Any]])
            let ledgerKey = try #require(keys.first { $0["purpose"] as? String == "ledger_checkpoint" })
            #expect(ledgerKey["key_id"] as? String == checkpoint["key_id"] as? String)
            #expect(!keys.contains { $0["purpose"] as? String == "webhook_signing" }, "the webhook secret has no public half and is never listed")
            let publicKey = try #require((ledgerKey["public_key"] as? String).flatMap { Data(base64Encoded: $0) })
            let tenantID = try #require(try await client.send(.get, "/v1/tenants/acme").object()["id"] as? String)
            let parsed = LedgerCheckpoint(
                tenantID: try #require(UUID(uuidString: tenantID)), sequence: Int64(try #require(checkpoint["sequence"] as? Int)),
                hash: try #require(checkpoint["hash"] as? String), keyID: try #require(checkpoint["key_id"] as? String),
                signature: Array(try #require((checkpoint["signature"] as? String).flatMap { Data(base64Encoded: $0) })),
                signedAt: try #require((checkpoint["signed_at"] as? String).flatMap(Timestamp.parse)))
            #expect(parsed.isSigned(by: Array(publicKey)))
            var forged = parsed
            forged.hash = String(repeating: "a", count: 64)
            #expect(!forged.isSigned(by: Array(publicKey)))
            let approver = try #require(
                try await client.send(.post, "/v1/api-keys", json: #"{"name":"a","role":"approver","tenant":"acme"}"#).object()["key"] as? String)
            #expect(try await client.send(.post, "/v1/tenants/acme/ledger/checkpoint", token: approver).status == .forbidden)
            #expect(try await client.send(.get, "/v1/keys", token: nil).status == .unauthorized)
        }
    }

    /// An export streams the tenant's entries with a manifest; strict redaction hides labelled pii;
    /// the file checks out offline with the published keys; another tenant's key gets nothing.
    @Test(arguments: Backend.available)
    func exportsAreRedactedAndVerifyOffline(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)
            let runID = try #require(
                try await client.send(.post, "/v1/tenants/acme/runs", token: demo.token, json: #"{"goal":"g"}"#).object()["id"] as? String)
            let step = try await client.send(
                .post, "/v1/tenants/acme/runs/\(runID)/steps", token: demo.token,
                json: #"{"kind":"tool_call","tool":"refund","output":{"email":"ann@example.com"},"labels":{"output.email":"pii"}}"#)
            #expect(step.status == .created)
            #expect(try await client.send(.post, "/v1/tenants/acme/ledger/checkpoint").status == .ok)

            let strict = try await client.send(.get, "/v1/tenants/acme/ledger/export?redaction=strict")
            #expect(strict.status == .ok && strict.headers[.contentType]?.hasPrefix("application/x-ndjson") == true)
            #expect(!strict.text.contains("ann@example.com") && strict.text.contains("[redacted pii]"))
            let lines = strict.text.split(separator: "\n").map { Array($0.utf8) }
            let lastLine = try #require(lines.last)
            let manifest = try #require(try JSONSerialization.jsonObject(with: Data(lastLine)) as? [String: Any])
            #expect(manifest["type"] as? String == "manifest" && manifest["redaction_level"] as? String == "strict")
            #expect((manifest["checkpoints"] as? [Any])?.count == 1 && manifest["first_sequence"] as? Int == 1)
            var keys: [String: [UInt8]] = [:]
            for key in try await client.send(.get, "/v1/keys").array("items") {
                if let id = key["key_id"] as? String, let text = key["public_key"] as? String, let raw = Data(base64Encoded: text) {
                    keys[id] = Array(raw)
                }
            }
            let checked = LedgerExport.verify(lines: lines, publicKeys: keys)
            #expect(checked.valid && checked.entries == manifest["entries"] as? Int, "\(checked)")
            let none = try await client.send(.get, "/v1/tenants/acme/ledger/export?redaction=none")
            #expect(none.text.contains("ann@example.com"))
            // A window in the future holds nothing but the manifest.
            let empty = try await client.send(.get, "/v1/tenants/acme/ledger/export?from=2999-01-01T00:00:00Z")
            #expect(empty.text.split(separator: "\n").count == 1 && empty.text.contains(#""entries":0"#))
            #expect(try await client.send(.get, "/v1/tenants/acme/ledger/export?redaction=loose").errorCode() == "invalid_field")
            #expect(
                try await client.send(.get, "/v1/tenants/acme/ledger/export?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z").errorCode()
                    == "invalid_field")
            _ = try await client.send(.post, "/v1/tenants", json: #"{"slug":"beta"}"#)
            let beta = try #require(
                try await client.send(.post, "/v1/api-keys", json: #"{"name":"b","role":"admin","tenant":"beta"}"#).object()["key"] as? String)
            #expect(try await client.send(.get, "/v1/tenants/acme/ledger/export", token: beta).status == .notFound)
            let audit = try await client.send(.get, "/v1/tenants/acme/audit-events?action=ledger.exported").array("items")
            #expect(audit.count == 3, "each of the three exports is audited, the refused ones not")
        }
    }

    /// A decision's input may carry labels: the policy sees every value, the record keeps a secret as
    /// its keyed fingerprint, the labels come back on every read and reach the ledger, exports redact
    /// by them, and the labelled decision's provenance still checks.
    @Test(arguments: Backend.available)
    func labelledDecisionInputsAreRedactedEverywhere(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)
            let decided = try await client.send(
                .post, "/v1/decide", token: demo.token,
                json: #"""
                    {"tool":"refund","action":"create","cost":4,"input":{"order":42,"api_key":"sk-live-77","customer":{"email":"ann@example.com"}},
                     "labels":{"input.api_key":"secret","input.customer.email":"pii"}}
                    """#)
            #expect(decided.status == .ok, "\(decided.text)")
            let decisionID = try #require(try decided.object()["decision_id"] as? String)
            let shown = try await client.send(.get, "/v1/tenants/acme/decisions/\(decisionID)")
            #expect(!shown.text.contains("sk-live-77") && shown.text.contains("[redacted secret hmac-sha256:"), "\(shown.text)")
            #expect(try shown.object()["labels"] as? [String: String] == ["input.api_key": "secret", "input.customer.email": "pii"])
            let listed = try await client.send(.get, "/v1/tenants/acme/decisions").array("items")
            #expect(listed.first?["labels"] as? [String: String] == ["input.api_key": "secret", "input.customer.email": "pii"])
            #expect(
                try await client.send(
                    .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","labels":{"output.x":"pii"}}"#
                )
                .errorCode() == "invalid_field")

            let ledger = try await client.send(.get, "/v1/tenants/acme/ledger?limit=200")
            #expect(!ledger.text.contains("sk-live-77"))
            let none = try await client.send(.get, "/v1/tenants/acme/ledger/export?redaction=none")
            #expect(!none.text.contains("sk-live-77") && none.text.contains("ann@example.com"))
            let standard = try await client.send(.get, "/v1/tenants/acme/ledger/export?redaction=standard")
            #expect(!standard.text.contains("ann@example.com") && standard.text.contains("[redacted pii]"), "\(standard.text)")
            #expect(standard.text.contains("hmac-sha256:"), "standard keeps the secret's fingerprint")
            let strict = try await client.send(.get, "/v1/tenants/acme/ledger/export?redaction=strict")
            #expect(!strict.text.contains("hmac-sha256:") && strict.text.contains("[redacted secret]"))
            var keys: [String: [UInt8]] = [:]
            for key in try await client.send(.get, "/v1/keys").array("items") {
                if let id = key["key_id"] as? String, let text = key["public_key"] as? String, let raw = Data(base64Encoded: text) {
                    keys[id] = Array(raw)
                }
            }
            #expect(LedgerExport.verify(lines: strict.text.split(separator: "\n").map { Array($0.utf8) }, publicKeys: keys).valid)
            let verified = try await client.send(.get, "/v1/provenance/\(decisionID)/verify").object()
            #expect(verified["valid"] as? Bool == true, "\(verified)")
        }
    }

    /// `?records=true` compares every entry of a record that never changes with the record's row as
    /// it reads now: a changed decision or a deleted step is named; the hash chain alone does not see
    /// them.
    @Test(arguments: Backend.available)
    func recordsAreComparedWithTheirEntries(_ backend: Backend) async throws {
        let box = ProvenanceTests.URLBox()
        let capture: (inout WardenConfiguration) -> Void = { configuration in box.url.withLock { $0 = configuration.databaseURL } }
        try await TestApp.run(backend, configure: capture) { client in
            let demo = try await Demo.setUp(client)
            let decisionID = try #require(
                try await client.send(
                    .post, "/v1/decide", token: demo.token,
                    json: #"{"tool":"refund","action":"create","input":{"k":"v","n":1.5},"labels":{"input.k":"secret"}}"#
                ).object()["decision_id"] as? String)
            let runID = try #require(
                try await client.send(.post, "/v1/tenants/acme/runs", token: demo.token, json: #"{"goal":"g"}"#).object()["id"] as? String)
            let stepID = try #require(
                try await client.send(
                    .post, "/v1/tenants/acme/runs/\(runID)/steps", token: demo.token,
                    json:
                        #"{"kind":"tool_call","tool":"refund","input":{"a":[1,2.25,{"b":null}]},"output":{"e":"x@y"},"labels":{"output.e":"pii"},"started_at":"2026-11-24T00:00:00Z","ended_at":"2026-11-24T00:00:01Z"}"#
                ).object()["id"] as? String)
            #expect(try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/annotations", json: #"{"text":"seen"}"#).status == .created)
            #expect(try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/rollback", json: #"{"reason":"drill"}"#).status == .ok)
            #expect(try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/replay", json: "{}").status == .created)
            #expect(try await client.send(.post, "/v1/tenants/acme/tools/refund/kill", json: #"{"reason":"drill"}"#).status == .ok)

            let whole = try await client.send(.get, "/v1/tenants/acme/ledger/verify?records=true").object()
            #expect(whole["valid"] as? Bool == true, "\(whole)")
            let compared = try #require(whole["records_compared"] as? Int)
            #expect(compared >= 8, "decision, step, annotation, compensation, replay, its steps, audit events: \(whole)")
            #expect(try await client.send(.get, "/v1/tenants/acme/ledger/verify?records=maybe").errorCode() == "invalid_field")

            let captured = box.url.withLock { $0 }
            let url = try #require(captured)
            try await ProvenanceTests.execute(url, "UPDATE decisions SET effect = 'deny' WHERE id = '\(decisionID)'")
            #expect(try await client.send(.get, "/v1/tenants/acme/ledger/verify").object()["valid"] as? Bool == true, "the chain alone holds")
            let changed = try await client.send(.get, "/v1/tenants/acme/ledger/verify?records=true").object()
            let broken = try #require(changed["broken"] as? [String: Any], "\(changed)")
            #expect(changed["valid"] as? Bool == false && broken["record_id"] as? String == decisionID)
            #expect((broken["reason"] as? String)?.contains("decision row no longer matches") == true, "\(broken)")
            #expect(changed["entries"] as? Int == (broken["sequence"] as? Int ?? 0) - 1)

            try await ProvenanceTests.execute(url, "UPDATE decisions SET effect = 'allow' WHERE id = '\(decisionID)'")
            try await ProvenanceTests.execute(url, "DELETE FROM run_steps WHERE id = '\(stepID)'")
            let gone = try await client.send(.get, "/v1/tenants/acme/ledger/verify?records=true").object()
            let missing = try #require(gone["broken"] as? [String: Any], "\(gone)")
            #expect(missing["record_id"] as? String == stepID && (missing["reason"] as? String)?.contains("run step row is gone") == true)
        }
    }

    /// Rotating the checkpoint key: new checkpoints are signed with the new key, the old ones still
    /// verify with the retired key, which `GET /v1/keys` lists; global admins only; audited.
    @Test(arguments: Backend.available)
    func rotatingTheCheckpointKeyKeepsOldCheckpointsValid(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            _ = try await Demo.setUp(client)
            let first = try await client.send(.post, "/v1/tenants/acme/ledger/checkpoint").object()
            let oldKey = try #require(first["key_id"] as? String)
            let tenantAdmin = try #require(
                try await client.send(.post, "/v1/api-keys", json: #"{"name":"t","role":"admin","tenant":"acme"}"#).object()["key"] as? String)
            #expect(
                try await client.send(.post, "/v1/keys/rotate", token: tenantAdmin, json: #"{"purpose":"ledger_checkpoint","reason":"r"}"#).status
                    == .forbidden)
            #expect(try await client.send(.post, "/v1/keys/rotate", json: #"{"purpose":"agent_token","reason":"r"}"#).errorCode() == "invalid_field")
            #expect(try await client.send(.post, "/v1/keys/rotate", json: #"{"purpose":"ledger_checkpoint"}"#).errorCode() == "missing_field")
            let rotated = try await client.send(.post, "/v1/keys/rotate", json: #"{"purpose":"ledger_checkpoint","reason":"yearly"}"#).object()
            #expect(rotated["retired_key_id"] as? String == oldKey)
            let newKey = try #require(rotated["key_id"] as? String)
            #expect(newKey != oldKey)
            _ = try await client.send(.post, "/v1/tenants/acme/agents", json: #"{"agent_id":"after"}"#)
            let second = try await client.send(.post, "/v1/tenants/acme/ledger/checkpoint").object()
            #expect(second["key_id"] as? String == newKey)
            let verified = try await client.send(.get, "/v1/tenants/acme/ledger/verify").object()
            #expect(verified["valid"] as? Bool == true && verified["checkpoints"] as? Int == 2, "\(verified)")
            let keys = try await client.send(.get, "/v1/keys").array("items")
            #expect(keys.contains { $0["key_id"] as? String == oldKey && $0["status"] as? String == "retired" })
            #expect(keys.contains { $0["key_id"] as? String == newKey && $0["status"] as? String == "current" })
            let audit = try await client.send(.get, "/v1/audit-events?action=signing_key.rotated").array("items")
            #expect(audit.count == 1)
        }
    }
}
