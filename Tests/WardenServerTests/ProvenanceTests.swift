import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SQLKit
import Synchronization
import Testing
import WardenCore
import WardenStore

@testable import WardenServer

/// Provenance manifests: an in-toto Statement in a DSSE envelope, signed with the ledger key, for a
/// decision or a tool call; checked online (record, ledger entry, chain to the checkpoint) and
/// offline (signature, digest, hash); still valid after a key rotation; tampering found.
@Suite struct ProvenanceTests {
    /// The database URL the app was built on, for changing rows behind its back.
    final class URLBox: Sendable {
        let url = Mutex<String?>(nil)
    }

    @Test(arguments: Backend.available)
    func aDecisionsManifestIsSignedKeptAndVerified(_ backend: Backend) async throws {
        let box = URLBox()
        let capture: (inout WardenConfiguration) -> Void = { configuration in box.url.withLock { $0 = configuration.databaseURL } }
        try await TestApp.run(backend, configure: capture) { client in
            let demo = try await Demo.setUp(client)
            let decision = try await demo.decide(client).object()
            let decisionID = try #require(decision["decision_id"] as? String)
            // Someone else's id, a made-up id and a malformed one read as not found.
            #expect(try await client.send(.get, "/v1/provenance/\(UUID().uuidString.lowercased())").errorCode() == "provenance_not_found")
            #expect(try await client.send(.get, "/v1/provenance/nope").errorCode() == "provenance_not_found")
            // Agent tokens and approvers may not read manifests; auditors may.
            #expect(try await client.send(.get, "/v1/provenance/\(decisionID)", token: demo.token).status == .forbidden)
            let approver = try await WebhookTests.approver(client)
            #expect(try await client.send(.get, "/v1/provenance/\(decisionID)", token: approver).status == .forbidden)
            let auditor = try #require(
                try await client.send(.post, "/v1/api-keys", json: #"{"name":"au","role":"auditor","tenant":"acme"}"#).object()["key"] as? String)

            // The record's entry is checkpointed first, so the manifest carries the signed checkpoint.
            #expect(try await client.send(.post, "/v1/tenants/acme/ledger/checkpoint").status == .ok)
            let answer = try await client.send(.get, "/v1/provenance/\(decisionID)", token: auditor)
            #expect(answer.status == .ok, "\(answer.text)")
            let envelope = try answer.object()
            #expect(envelope["payloadType"] as? String == "application/vnd.in-toto+json")
            let payloadText = try #require(envelope["payload"] as? String)
            let payload = try #require(Data(base64Encoded: payloadText))
            let statement = try #require(try JSONSerialization.jsonObject(with: payload) as? [String: Any])
            #expect(statement["_type"] as? String == "https://in-toto.io/Statement/v1")
            let subject = try #require((statement["subject"] as? [[String: Any]])?.first)
            #expect(subject["name"] as? String == "warden:acme:decision:\(decisionID)")
            let predicate = try #require(statement["predicate"] as? [String: Any])
            let record = try #require(predicate["record"] as? [String: Any])
            #expect((record["body"] as? [String: Any])?["effect"] as? String == "allow")
            #expect((predicate["checkpoint"] as? [String: Any])?["sequence"] != nil, "\(predicate)")

            // Asked again, the same manifest (kept, not signed afresh).
            #expect(try await client.send(.get, "/v1/provenance/\(decisionID)").text == answer.text)

            let verified = try await client.send(.get, "/v1/provenance/\(decisionID)/verify", token: auditor).object()
            #expect(verified["valid"] as? Bool == true, "\(verified)")
            let keyID = try #require(verified["key_id"] as? String)
            #expect(verified["signed_at"] as? String != nil && verified["checkpoint_sequence"] as? Int != nil)
            #expect((verified["reason"] as? String)?.contains("signed checkpoint") == true)
            // The runbook's spelling answers the same.
            #expect(try await client.send(.get, "/v1/provenance/verify/\(decisionID)").object()["valid"] as? Bool == true)

            // The envelope checked as a body; a changed payload or signature fails, with a reason.
            let posted = try await client.send(.post, "/v1/provenance/verify", json: answer.text).object()
            #expect(posted["valid"] as? Bool == true && posted["checked_store"] as? Bool == true, "\(posted)")
            var forged = envelope
            let changed = String(decoding: payload, as: UTF8.self).replacingOccurrences(of: "\"allow\"", with: "\"deny\"")
            forged["payload"] = Data(changed.utf8).base64EncodedString()
            let forgedAnswer = try await client.send(
                .post, "/v1/provenance/verify", json: String(decoding: try JSONSerialization.data(withJSONObject: forged), as: UTF8.self)
            ).object()
            #expect(forgedAnswer["valid"] as? Bool == false && (forgedAnswer["reason"] as? String)?.contains("signature") == true)
            #expect(try await client.send(.post, "/v1/provenance/verify", json: #"{"payloadType":"x"}"#).errorCode() == "invalid_field")

            // Offline, with the public keys alone.
            let keys = try await client.send(.get, "/v1/keys").object()
            var trusted: [String: [UInt8]] = [:]
            for item in keys["items"] as? [[String: Any]] ?? [] {
                if let id = item["key_id"] as? String, let text = item["public_key"] as? String, let key = Data(base64Encoded: text) {
                    trusted[id] = Array(key)
                }
            }
            let parsed = try ProvenanceEnvelope.parse(try #require(JSONValue.parse(answer.text)))
            #expect(Provenance.verify(parsed, keys: trusted).valid)
            #expect(!Provenance.verify(parsed, keys: [:]).valid)

            // After a key rotation the old manifest still verifies, with the retired key.
            let rotated = try await client.send(.post, "/v1/keys/rotate", json: #"{"purpose":"ledger_checkpoint","reason":"drill"}"#)
            #expect(rotated.status == .ok, "\(rotated.text)")
            let after = try await client.send(.get, "/v1/provenance/\(decisionID)/verify").object()
            #expect(after["valid"] as? Bool == true && after["key_id"] as? String == keyID, "\(after)")

            // The decision row changed behind Warden's back: verify names it.
            let captured = box.url.withLock { $0 }
            let url = try #require(captured)
            try await Self.execute(url, "UPDATE decisions SET effect = 'deny' WHERE id = '\(decisionID)'")
            let tampered = try await client.send(.get, "/v1/provenance/\(decisionID)/verify").object()
            #expect(tampered["valid"] as? Bool == false, "\(tampered)")
            #expect((tampered["reason"] as? String)?.contains("differs from what the manifest signed") == true, "\(tampered)")

            // A second decision, its row changed before any manifest: none is issued.
            let second = try #require(try await demo.decide(client).object()["decision_id"] as? String)
            try await Self.execute(url, "UPDATE decisions SET tool = 'other' WHERE id = '\(second)'")
            #expect(try await client.send(.get, "/v1/provenance/\(second)").errorCode() == "provenance_unavailable")
        }
    }

    @Test(arguments: Backend.available)
    func aToolCallsManifestAndAChangedLedgerEntry(_ backend: Backend) async throws {
        let box = URLBox()
        let capture: (inout WardenConfiguration) -> Void = { configuration in box.url.withLock { $0 = configuration.databaseURL } }
        try await TestApp.run(backend, configure: capture) { client in
            let demo = try await Demo.setUp(client)
            let runID = try #require(
                try await client.send(.post, "/v1/tenants/acme/runs", token: demo.token, json: #"{"goal":"refund"}"#).object()["id"] as? String)
            let step = try await client.send(
                .post, "/v1/tenants/acme/runs/\(runID)/steps", token: demo.token,
                json:
                    #"{"kind":"tool_call","tool":"refund","input":{"order":1},"output":{"ok":true},"started_at":"2026-11-24T00:00:00Z","ended_at":"2026-11-24T00:00:01Z"}"#
            )
            let stepID = try #require(try step.object()["id"] as? String)
            let note = try #require(
                try await client.send(
                    .post, "/v1/tenants/acme/runs/\(runID)/steps", token: demo.token, json: #"{"kind":"note","message":"x"}"#
                ).object()["id"] as? String)
            // Only tool calls (and decisions) have manifests.
            #expect(try await client.send(.get, "/v1/provenance/\(note)").errorCode() == "provenance_not_found")
            let manifest = try await client.send(.get, "/v1/provenance/\(stepID)")
            #expect(manifest.status == .ok, "\(manifest.text)")
            let fresh = try await client.send(.get, "/v1/provenance/\(stepID)/verify").object()
            #expect(fresh["valid"] as? Bool == true && fresh["kind"] as? String == "tool_call", "\(fresh)")
            #expect((fresh["reason"] as? String)?.contains("no signed checkpoint covers it yet") == true, "\(fresh)")
            let sequence = try #require(fresh["ledger_sequence"] as? Int)

            // Its ledger entry rewritten: the verification fails and says where.
            let captured = box.url.withLock { $0 }
            let url = try #require(captured)
            try await Self.execute(url, "UPDATE ledger_entries SET hash = '\(String(repeating: "f", count: 64))' WHERE seq = \(sequence)")
            let broken = try await client.send(.get, "/v1/provenance/\(stepID)/verify").object()
            #expect(broken["valid"] as? Bool == false && (broken["reason"] as? String)?.contains("ledger entry \(sequence)") == true, "\(broken)")
        }
    }

    /// Runs one statement on the app's database through a connection of its own.
    static func execute(_ url: String, _ sql: String) async throws {
        var logger = Logger(label: "warden.test.tamper")
        logger.logLevel = .warning
        let database = try await Database.open(try DatabaseLocation(parsing: url), logger: logger)
        do {
            try await database.withSession { db in try await db.raw(SQLQueryString(stringLiteral: sql)).run() }
        } catch {
            await database.close()
            throw error
        }
        await database.close()
    }
}
