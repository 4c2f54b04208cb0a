import Foundation
import Rego
import Testing

@testable import WardenCore

@Suite struct NativeRulesTests {
    static let rules = JSONValue.parse(
        #"""
        [
          {"id": "block-analyst-admin", "agent": "analyst-*", "tool": "admin_*", "effect": "deny", "priority": 100,
           "reason": "analysts may not use admin tools"},
          {"id": "big-refunds", "tool": "refund", "action": "create", "effect": "require_approval", "priority": 50,
           "conditions": [{"path": "input.request.amount", "op": "gt", "value": 100}], "reason": "refund above 100"},
          {"id": "eu-only", "tool": "refund", "effect": "deny", "priority": 40,
           "conditions": [{"path": "input.request.region", "op": "in", "value": ["us", "apac"]}]},
          {"id": "tickets", "tool": "refund", "effect": "deny", "priority": 30,
           "conditions": [{"path": "input.request.ticket", "op": "exists", "value": false}], "reason": "a refund needs a ticket"},
          {"id": "emails", "tool": "email", "effect": "deny", "priority": 30,
           "conditions": [{"path": "input.request.to", "op": "matches", "value": "@(competitor|rival)\\.com$"}]},
          {"id": "allow-rest", "effect": "allow", "priority": 0}
        ]
        """#)!

    func decide(_ agent: String, _ tool: String, _ action: String, _ request: String, rules: JSONValue = NativeRulesTests.rules) throws
        -> PolicyVerdict
    {
        let bundle = PolicyBundle(
            id: UUID(), tenantID: UUID(), version: SemanticVersion("1.0.0")!, status: .draft, modules: [:], data: .object([:]), rules: rules,
            entrypoint: NativeRules.entrypoint, defaultEffect: .deny, notes: nil, createdBy: "test", createdAt: Date(), updatedAt: Date()
        )
        let compiled = try CompiledBundle(bundle)
        let input = try Value.parseJSON(
            #"{"agent": {"id": "\#(agent)", "roles": []}, "tool": {"name": "\#(tool)"}, "action": "\#(action)", "request": \#(request)}"#)
        return compiled.evaluate(input)
    }

    @Test func theHighestPriorityMatchingRuleDecides() throws {
        #expect(
            try decide("analyst-7", "admin_users", "create", "{}")
                == .decided(effect: .deny, reasons: ["analysts may not use admin tools"], obligations: nil))
        #expect(try decide("support-bot", "admin_users", "create", "{}") == .decided(effect: .allow, reasons: ["rule:allow-rest"], obligations: nil))
        #expect(
            try decide("support-bot", "refund", "create", #"{"amount": 500, "region": "us"}"#)
                == .decided(effect: .requireApproval, reasons: ["refund above 100"], obligations: nil))
        #expect(
            try decide("support-bot", "refund", "create", #"{"amount": 5, "region": "us"}"#)
                == .decided(effect: .deny, reasons: ["rule:eu-only"], obligations: nil))
        #expect(
            try decide("support-bot", "refund", "read", #"{"region": "eu"}"#)
                == .decided(effect: .deny, reasons: ["a refund needs a ticket"], obligations: nil))
        #expect(
            try decide("support-bot", "refund", "read", #"{"region": "eu", "ticket": "T-1"}"#)
                == .decided(effect: .allow, reasons: ["rule:allow-rest"], obligations: nil))
        #expect(try decide("x", "email", "send", #"{"to": "ceo@rival.com"}"#) == .decided(effect: .deny, reasons: ["rule:emails"], obligations: nil))
        #expect(
            try decide("x", "email", "send", #"{"to": "ceo@example.com"}"#)
                == .decided(effect: .allow, reasons: ["rule:allow-rest"], obligations: nil))
        // Nothing matches: the entry point is undefined, so the bundle's default effect answers.
        let narrow = JSONValue.parse(#"[{"id": "only-search", "tool": "search", "effect": "allow"}]"#)!
        #expect(try decide("x", "refund", "create", "{}", rules: narrow) == .noMatch)
    }

    @Test func equalPrioritiesFollowListOrder() throws {
        let rules = JSONValue.parse(#"[{"id": "a", "effect": "deny", "priority": 1}, {"id": "b", "effect": "allow", "priority": 1}]"#)!
        #expect(try decide("x", "t", "a", "{}", rules: rules) == .decided(effect: .deny, reasons: ["rule:a"], obligations: nil))
    }

    @Test func mistakesNameTheRule() {
        func message(_ text: String) -> String {
            do {
                _ = try NativeRules.parse(JSONValue.parse(text)!)
                return "no error"
            } catch {
                #expect(error.code == .invalidPolicy)
                return error.message
            }
        }
        #expect(message(#"[{"id": "x", "effect": "maybe"}]"#).hasPrefix(#"rules[0] (id "x"): effect must be"#))
        #expect(message(#"[{"effect": "allow"}]"#).contains("id must be"))
        #expect(
            message(#"[{"id": "x", "effect": "allow", "conditions": [{"path": "request.amount", "op": "gt", "value": 1}]}]"#).contains(
                "must start with input."))
        #expect(
            message(#"[{"id": "x", "effect": "allow", "conditions": [{"path": "input.a", "op": "between", "value": 1}]}]"#).contains(
                "op must be one of"))
        #expect(
            message(#"[{"id": "x", "effect": "allow", "conditions": [{"path": "input.a", "op": "matches", "value": "("}]}]"#).contains(
                "not a valid regular expression"))
        #expect(message(#"[{"id": "x", "effect": "allow", "colour": "red"}]"#).contains("unknown field 'colour'"))
    }

    @Test func lintFindsDuplicatesShadowsAndConflicts() throws {
        let rules = try NativeRules.parse(
            JSONValue.parse(
                #"""
                [
                  {"id": "deny-all-refunds", "tool": "refund", "effect": "deny", "priority": 10},
                  {"id": "small-refunds", "tool": "refund", "effect": "allow", "priority": 5,
                   "conditions": [{"path": "input.request.amount", "op": "lt", "value": 10}]},
                  {"id": "email-a", "tool": "email", "effect": "allow", "priority": 3},
                  {"id": "email-b", "tool": "email*", "effect": "deny", "priority": 3,
                   "conditions": [{"path": "input.request.to", "op": "exists"}]},
                  {"id": "email-a", "tool": "search", "effect": "allow", "priority": 1}
                ]
                """#)!)
        let findings = NativeRules.lint(rules)
        #expect(findings.contains { $0.kind == .duplicateID && $0.rule == "email-a" })
        #expect(findings.contains { $0.kind == .unreachable && $0.rule == "small-refunds" && $0.other == "deny-all-refunds" })
        #expect(findings.contains { $0.kind == .conflict && $0.rule == "email-a" && $0.other == "email-b" })
        #expect(!findings.contains { $0.kind == .unreachable && $0.rule == "deny-all-refunds" })
    }

    @Test func rulesAndRegoShareABundle() throws {
        // A Rego module can use the rules' verdict and refine it.
        let source = #"""
            package warden

            decision := data.warden.rules.decision if input.agent.id != "root"

            decision := "allow" if input.agent.id == "root"
            """#
        let bundle = PolicyBundle(
            id: UUID(), tenantID: UUID(), version: SemanticVersion("1.0.0")!, status: .draft, modules: ["main.rego": source], data: .object([:]),
            rules: JSONValue.parse(#"[{"id": "no-shell", "tool": "shell", "effect": "deny"}]"#)!, entrypoint: "data.warden.decision",
            defaultEffect: .deny, notes: nil, createdBy: "test", createdAt: Date(), updatedAt: Date()
        )
        let compiled = try CompiledBundle(bundle)
        func input(_ agent: String) throws -> Value {
            try Value.parseJSON(#"{"agent": {"id": "\#(agent)"}, "tool": {"name": "shell"}, "action": "run", "request": {}}"#)
        }
        #expect(compiled.evaluate(try input("bot")) == .decided(effect: .deny, reasons: ["rule:no-shell"], obligations: nil))
        #expect(compiled.evaluate(try input("root")) == .decided(effect: .allow, reasons: ["policy_allow"], obligations: nil))
    }
}
