import Foundation
import Testing

@testable import WardenCore

/// Webhook signatures, retries, redaction, the escalation ladder and approval levels. Pure.
@Suite struct WebhookRulesTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func signaturesVerifyOnlyTheSignedBodyWithTheSecretInTime() {
        let body = Array(#"{"type":"approval.created"}"#.utf8)
        let header = WebhookSignature.header(secret: "whsec_a", timestamp: 1_800_000_000, body: body)
        #expect(header.hasPrefix("t=1800000000,v1=") && header.count == "t=1800000000,v1=".count + 64)
        #expect(WebhookSignature.verify(header: header, secret: "whsec_a", body: body, now: Self.now))
        #expect(!WebhookSignature.verify(header: header, secret: "whsec_b", body: body, now: Self.now), "another secret")
        #expect(!WebhookSignature.verify(header: header, secret: "whsec_a", body: body + [0x20], now: Self.now), "another body")
        #expect(!WebhookSignature.verify(header: header, secret: "whsec_a", body: body, now: Self.now.addingTimeInterval(301)), "too old")
        let forged = header.replacingOccurrences(of: "t=1800000000", with: "t=1800000100")
        #expect(!WebhookSignature.verify(header: forged, secret: "whsec_a", body: body, now: Self.now), "the time is signed too")
        #expect(!WebhookSignature.verify(header: "garbage", secret: "whsec_a", body: body, now: Self.now))
        // Known answer, from Python: hmac.new(b"whsec_a", b"1800000000." + body, hashlib.sha256).hexdigest().
        #expect(header == "t=1800000000,v1=1c76accceecf38a4b609c8248f3fbeb0a58332191a1766482ff3d7f729b8aa1b")
    }

    @Test func tenantSecretsAreStablePerTenantAndDistinct() {
        let secrets = WebhookSecrets(master: Array(repeating: 7, count: 32))
        let a = UUID()
        let b = UUID()
        #expect(secrets.secret(tenantID: a) == secrets.secret(tenantID: a))
        #expect(secrets.secret(tenantID: a) != secrets.secret(tenantID: b))
        #expect(secrets.secret(tenantID: a) != WebhookSecrets(master: Array(repeating: 8, count: 32)).secret(tenantID: a))
        #expect(secrets.fingerprint(tenantID: a, .string("x")) == secrets.fingerprint(tenantID: a, .string("x")))
        #expect(secrets.fingerprint(tenantID: a, .string("x")) != secrets.fingerprint(tenantID: a, .string("y")))
    }

    @Test func retriesBackOffExponentiallyWithJitterThenStop() throws {
        let policy = WebhookRetryPolicy(maxAttempts: 5, baseDelay: 2, maxDelay: 10)
        #expect(policy.delay(afterAttempt: 1, jitter: 1) == 2)
        #expect(policy.delay(afterAttempt: 1, jitter: 0) == 1)
        #expect(policy.delay(afterAttempt: 3, jitter: 1) == 8)
        #expect(policy.delay(afterAttempt: 4, jitter: 1) == 10, "capped")
        #expect(policy.delay(afterAttempt: 5, jitter: 0.5) == nil, "attempts used up")
        let delivery = WebhookDelivery(
            id: UUID(), tenantID: UUID(), approvalID: nil, event: "approval.created", url: "https://hooks.example.com/x?token=t", body: "{}",
            nextAttemptAt: Self.now, createdAt: Self.now)
        #expect(delivery.host == "https://hooks.example.com")
        let failed = delivery.after(.answered(503), policy: policy, now: Self.now, jitter: 1)
        #expect(failed.status == .pending && failed.attempts == 1 && failed.lastStatus == 503 && failed.lastError == "HTTP 503")
        #expect(failed.nextAttemptAt == Self.now.addingTimeInterval(2))
        var dead = failed
        for _ in 0..<4 { dead = dead.after(.failed("connectTimeout"), policy: policy, now: Self.now, jitter: 0) }
        #expect(dead.status == .dead && dead.attempts == 5 && dead.lastStatus == nil && dead.lastError == "connectTimeout")
        let delivered = failed.after(.answered(204), policy: policy, now: Self.now, jitter: 0)
        #expect(delivered.status == .delivered && delivered.deliveredAt == Self.now && delivered.lastError == nil)
    }

    @Test func labelsRedactSecretsOnStoreAndMoreForWebhooks() throws {
        let input: JSONValue = .object([
            "api_key": .string("sk"), "customer": .object(["email": .string("a@b.c"), "tier": .string("gold")]),
            "items": .array([.object(["card": .string("4111")])]), "note": .string("hi"),
        ])
        let labels = try Redaction.labels(
            .object([
                "input.api_key": .string("secret"), "input.customer.email": .string("pii"), "input.items.0.card": .string("confidential"),
                "input.missing.path": .string("secret"),
            ]))
        let stored = Redaction.storing(input: input, labels: labels) { _ in "fp" }
        #expect(stored.canonicalText.contains(#""api_key":"[redacted secret fp]""#))
        #expect(stored.canonicalText.contains("a@b.c") && stored.canonicalText.contains("4111"))
        let strict = Redaction.strict(input: stored, labels: labels)
        #expect(!strict.canonicalText.contains("a@b.c") && !strict.canonicalText.contains("4111"))
        #expect(strict.canonicalText.contains(#""email":"[redacted pii]""#) && strict.canonicalText.contains("gold"))
        #expect(strict.canonicalText.contains(#""card":"[redacted confidential]""#) && strict.canonicalText.contains(#""note":"hi""#))
        for bad: JSONValue in [.object(["output.x": .string("pii")]), .object(["input.x": .string("top-secret")]), .string("x")] {
            #expect(throws: WardenError.self) { try Redaction.labels(bad) }
        }
    }

    @Test func theLadderEscalatesOneLevelPerTimeoutThenExpires() {
        let settings = ApprovalSettings(
            timeouts: ["two_person": 100], escalationLevels: [.init(name: "lead", webhookURL: nil), .init(name: "sec", webhookURL: nil)])
        #expect(ApprovalRules.defaultLifetime(level: .twoPerson, settings: settings, defaultTimeout: 900) == 300)
        #expect(ApprovalRules.defaultLifetime(level: .manualApprove, settings: settings, defaultTimeout: 900) == 2700)
        #expect(ApprovalRules.defaultLifetime(level: .manualApprove, settings: ApprovalSettings(), defaultTimeout: 900) == 1800)
        var request = ApprovalRulesTests.request(.twoPerson)
        request.expiresAt = Self.now.addingTimeInterval(300)
        let cases: [(TimeInterval, Int, EscalationStep?)] = [
            (99, 0, nil), (100, 0, .escalate(to: 1)), (150, 1, nil), (250, 0, .escalate(to: 2)), (250, 2, nil), (299, 2, nil),
            (300, 2, .expire),
        ]
        for (age, step, expected) in cases {
            request.escalationStep = step
            #expect(
                ApprovalRules.escalation(of: request, settings: settings, defaultTimeout: 900, now: ApprovalRulesTests.now.addingTimeInterval(age))
                    == expected, "age \(age), step \(step)")
        }
        request.status = .approved
        #expect(ApprovalRules.escalation(of: request, settings: settings, defaultTimeout: 900, now: Self.now.addingTimeInterval(1000)) == nil)
    }

    @Test func settingsRefuseUnknownLevelsBadTimeoutsAndBadURLs() throws {
        let base = ApprovalSettings()
        let good = try base.merging([
            "timeouts": .object(["manual_approve": .int(60)]),
            "escalation_levels": .array([.object(["name": .string("lead"), "webhook_url": .string("https://h.example/x")])]),
        ])
        #expect(good.timeouts == ["manual_approve": 60] && good.escalationLevels.first?.webhookURL == "https://h.example/x")
        #expect(!good.description.contains("h.example"), "URLs stay out of the audit trail")
        for bad: [String: JSONValue] in [
            ["timeouts": .object(["auto_approve": .int(60)])], ["timeouts": .object(["manual_approve": .int(5)])],
            ["escalation_levels": .array([.object(["name": .string("x"), "webhook_url": .string("ftp://x")])])],
            ["escalation_levels": .array([.object([:])])], ["other": .null],
        ] {
            #expect(throws: WardenError.self) { try base.merging(bad) }
        }
    }

    @Test func obligationsAskForALevelAndUnknownLevelsFailClosed() {
        #expect(ApprovalLevel(obligations: .object(["approval_level": .string("two_person")])) == .twoPerson)
        #expect(ApprovalLevel(obligations: .object(["approval_level": .string("manual_approve")])) == .manualApprove)
        #expect(ApprovalLevel(obligations: .object(["approval_level": .string("whatever")])) == .twoPerson)
        #expect(ApprovalLevel(obligations: .object(["other": .int(1)])) == nil)
        #expect(ApprovalLevel(obligations: nil) == nil)
        #expect(ApprovalLevel.autoApprove < .manualApprove && ApprovalLevel.manualApprove < .twoPerson)
    }
}
