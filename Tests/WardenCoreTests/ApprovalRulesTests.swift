import Foundation
import Testing

@testable import WardenCore

/// Who may vote on an approval request, and what it becomes. Pure.
@Suite struct ApprovalRulesTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func request(_ level: ApprovalLevel, status: ApprovalStatus = .pending) -> ApprovalRequest {
        ApprovalRequest(
            id: UUID(), tenantID: UUID(), agentID: "bot", tool: "refund", action: "create", input: .object([:]), reason: nil, level: level,
            webhookURL: nil, expiresAt: now.addingTimeInterval(60), status: status, decisionID: nil, requestedBy: "agent:bot",
            idempotencyKey: nil, createdAt: now)
    }

    func code(_ body: () throws(WardenError) -> ApprovalRequest) -> String? {
        do { _ = try body() } catch { return error.code.name }
        return nil
    }

    @Test func oneApprovalResolvesManualTwoResolveTwoPerson() throws {
        let manual = try ApprovalRules.apply(.approve, by: "api_key:a", comment: "ok", to: Self.request(.manualApprove), now: Self.now)
        #expect(manual.status == .approved && manual.resolvedAt == Self.now)
        let once = try ApprovalRules.apply(.approve, by: "api_key:a", comment: nil, to: Self.request(.twoPerson), now: Self.now)
        #expect(once.status == .pending && once.approvals == ["api_key:a"] && once.resolvedAt == nil)
        #expect(
            code { () throws(WardenError) in try ApprovalRules.apply(.approve, by: "api_key:a", comment: nil, to: once, now: Self.now) }
                == "approval_resolved")
        let twice = try ApprovalRules.apply(.approve, by: "api_key:b", comment: nil, to: once, now: Self.now)
        #expect(twice.status == .approved && twice.approvals == ["api_key:a", "api_key:b"])
        let rejected = try ApprovalRules.apply(.reject, by: "api_key:b", comment: "no", to: once, now: Self.now)
        #expect(rejected.status == .rejected)
    }

    @Test func theRequesterResolvedAndExpiredRequestsAreRefused() {
        #expect(
            code { () throws(WardenError) in
                try ApprovalRules.apply(.approve, by: "agent:bot", comment: nil, to: Self.request(.manualApprove), now: Self.now)
            } == "forbidden")
        for status in [ApprovalStatus.approved, .rejected, .expired] {
            #expect(
                code { () throws(WardenError) in
                    try ApprovalRules.apply(.reject, by: "api_key:a", comment: nil, to: Self.request(.manualApprove, status: status), now: Self.now)
                } == "approval_resolved")
        }
        #expect(
            code { () throws(WardenError) in
                try ApprovalRules.apply(
                    .approve, by: "api_key:a", comment: nil, to: Self.request(.manualApprove), now: Self.now.addingTimeInterval(61))
            } == "approval_resolved")
        #expect(ApprovalStatus.allCases.filter(\.isResolved) == [.approved, .rejected, .expired])
    }
}
