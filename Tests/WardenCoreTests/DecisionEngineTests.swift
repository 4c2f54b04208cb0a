import Foundation
import Testing

@testable import WardenCore

@Suite struct DecisionEngineTests {
    static let tenantID = UUID()
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func tool(_ name: String, active: Bool = true, level: ApprovalLevel = .autoApprove, version: Int = 1) -> Tool {
        Tool(
            id: UUID(), tenantID: tenantID, name: name, description: "", risk: .high, capabilities: ["create", "read"], approvalLevel: level,
            endpoint: nil, compensation: nil, isActive: active, stateVersion: version, createdAt: now, updatedAt: now
        )
    }

    static let agent = Agent(id: UUID(), tenantID: tenantID, agentID: "bot", roles: [], createdAt: now, createdBy: "test")

    static func snapshot(_ effect: DefaultEffect, tools: [Tool]) -> TenantSnapshot {
        TenantSnapshot(tenant: Tenant(id: tenantID, slug: "acme", name: "Acme", createdAt: now, defaultEffect: effect), tools: tools, agents: [agent])
    }

    @Test(arguments: [
        // (default effect, tool active, approval level, requested tool, action) → (effect, reasons)
        (DefaultEffect.allow, true, ApprovalLevel.autoApprove, "refund", "create", Effect.allow, ["default_allow"]),
        (.deny, true, .autoApprove, "refund", "create", .deny, ["default_deny"]),
        (.allow, true, .autoApprove, "wire", "create", .deny, ["unknown_tool"]),
        (.allow, false, .autoApprove, "refund", "create", .deny, ["tool_disabled"]),
        (.allow, false, .autoApprove, "refund", "drop", .deny, ["tool_disabled"]),
        (.allow, true, .autoApprove, "refund", "drop", .deny, ["capability_violation"]),
        (.allow, true, .manualApprove, "refund", "read", .requireApproval, ["default_allow", "approval_required"]),
        (.allow, true, .twoPerson, "refund", "read", .requireApproval, ["default_allow", "approval_required"]),
        (.deny, true, .twoPerson, "refund", "read", .deny, ["default_deny"]),
    ])
    func checksInOrder(
        _ effect: DefaultEffect, _ active: Bool, _ level: ApprovalLevel, _ toolName: String, _ action: String, _ expected: Effect,
        _ reasons: [String]
    ) {
        let snapshot = Self.snapshot(effect, tools: [Self.tool("refund", active: active, level: level)])
        let outcome = DecisionEngine.decide(
            DecisionRequest(tool: toolName, action: action, input: .null), agent: Self.agent, in: snapshot, now: Date(timeIntervalSince1970: 0))
        #expect(outcome.effect == expected)
        #expect(outcome.reasons == reasons)
    }
}

@Suite struct AgentTokenAuthorityTests {
    @Test func signVerifyExpireAndRevoke() async throws {
        let authority = try await AgentTokenAuthority(keyID: "k1", privateKey: AgentTokenAuthority.generateKey())
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let identity = AgentIdentity(tokenID: UUID(), tenantID: UUID(), agentID: "bot", expiresAt: now.addingTimeInterval(60))
        let token = try await authority.sign(identity, issuedAt: now)
        #expect(AgentTokenAuthority.looksLikeToken(token))
        #expect(try await authority.verify(token, now: now) == identity)
        // Cached or not, expiry and revocation are checked on every use.
        await #expect(throws: WardenError.self) { try await authority.verify(token, now: now.addingTimeInterval(61)) }
        authority.revoke(identity.tokenID)
        await #expect(throws: WardenError.self) { try await authority.verify(token, now: now) }
        // Another key's token is refused.
        let other = try await AgentTokenAuthority(keyID: "k1", privateKey: AgentTokenAuthority.generateKey())
        let foreign = try await other.sign(identity, issuedAt: now)
        let fresh = try await AgentTokenAuthority(keyID: "k1", privateKey: AgentTokenAuthority.generateKey())
        await #expect(throws: WardenError.self) { try await fresh.verify(foreign, now: now) }
    }
}
