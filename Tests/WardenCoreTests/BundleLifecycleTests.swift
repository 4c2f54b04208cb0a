import Foundation
import Testing

@testable import WardenCore

/// The rollout state machine, without I/O.
@Suite struct BundleLifecycleTests {
    static let version = SemanticVersion("2.1.0")!
    static let author = "api_key:author"
    static let approver = "api_key:approver"

    func next(
        _ status: BundleStatus, _ action: BundleLifecycle.Action, actor: String = approver, force: Bool = false, reason: String? = nil,
        time: TimeInterval = 0, minimum: TimeInterval = 0, gates: Bool? = nil
    ) -> Result<BundleStatus, WardenError> {
        let context = BundleLifecycle.Context(
            actor: actor, author: Self.author, force: force, reason: reason, timeInStage: time, minimumStageTime: minimum, gatesPass: gates)
        return Result { () throws(WardenError) in try BundleLifecycle.next(status, action, context, version: Self.version) }
    }

    func code(_ result: Result<BundleStatus, WardenError>) -> String? {
        if case .failure(let error) = result { return error.code.name }
        return nil
    }

    @Test func theHappyPathWalksEveryStageInOrder() throws {
        #expect(try next(.draft, .approve).get() == .approved)
        #expect(try next(.approved, .promote(to: .canary10)).get() == .canary10)
        #expect(try next(.canary10, .promote(to: .canary50), time: 86_400, minimum: 86_400, gates: true).get() == .canary50)
        #expect(try next(.canary50, .promote(to: .active), time: 90_000, minimum: 86_400, gates: true).get() == .active)
        #expect(try next(.active, .supersede).get() == .archived)
    }

    @Test func theAuthorCannotApproveAndOnlyDraftsAreApproved() {
        #expect(code(next(.draft, .approve, actor: Self.author)) == "forbidden")
        for status in BundleStatus.allCases where status != .draft {
            #expect(code(next(status, .approve)) == "bundle_state_conflict", "\(status)")
        }
    }

    @Test(arguments: [
        // (from, to, expected code or nil when allowed), unforced, with time and gates satisfied.
        (BundleStatus.draft, BundleStatus.canary10, "bundle_not_approved"),
        (.draft, .active, "bundle_not_approved"),
        (.approved, .approved, "invalid_field"),
        (.approved, .draft, "invalid_field"),
        (.approved, .canary50, "rollout_gate_failed"),  // a skip needs force
        (.approved, .active, "rollout_gate_failed"),
        (.canary10, .active, "rollout_gate_failed"),
        (.canary50, .canary10, "invalid_field"),  // never backwards
        (.active, .active, "bundle_already_active"),
        (.archived, .active, "bundle_immutable"),
        (.archived, .canary10, "bundle_immutable"),
        (.approved, .archived, "invalid_field"),
    ])
    func promotionGoesForwardOneStageAtATime(_ from: BundleStatus, _ to: BundleStatus, _ expected: String) {
        #expect(code(next(from, .promote(to: to), time: 1e9, minimum: 0, gates: true)) == expected)
    }

    @Test func leavingACanaryNeedsItsMinimumTimeAndPassingGates() {
        #expect(code(next(.canary10, .promote(to: .canary50), time: 3_600, minimum: 86_400, gates: true)) == "rollout_gate_failed")
        #expect(code(next(.canary10, .promote(to: .canary50), time: 86_400, minimum: 86_400, gates: false)) == "rollout_gate_failed")
        #expect(code(next(.canary10, .promote(to: .canary50), time: 86_400, minimum: 86_400, gates: nil)) == "rollout_gate_failed")
        // Entering the first canary has no gate: there is nothing to measure yet.
        #expect((try? next(.approved, .promote(to: .canary10), gates: nil).get()) == .canary10)
    }

    @Test func forceSkipsStagesTimeAndGatesButNeedsAReason() throws {
        #expect(code(next(.approved, .promote(to: .active), force: true)) == "missing_field")
        #expect(code(next(.approved, .promote(to: .active), force: true, reason: "  ")) == "missing_field")
        #expect(try next(.approved, .promote(to: .active), force: true, reason: "hotfix").get() == .active)
        #expect(try next(.canary10, .promote(to: .active), force: true, reason: "hotfix", time: 1, minimum: 86_400, gates: false).get() == .active)
        // Force does not approve a draft, nor go backwards.
        #expect(code(next(.draft, .promote(to: .active), force: true, reason: "x")) == "bundle_not_approved")
        #expect(code(next(.canary50, .promote(to: .canary10), force: true, reason: "x")) == "invalid_field")
    }

    @Test func onlyDecidingStagesRollBackAndARollbackNeedsAReason() throws {
        for status in [BundleStatus.canary10, .canary50, .active] {
            #expect(try next(status, .rollback, reason: "error rate 12 %").get() == .archived)
            #expect(code(next(status, .rollback)) == "missing_field")
        }
        for status in [BundleStatus.draft, .approved, .archived] {
            #expect(code(next(status, .rollback, reason: "x")) == "bundle_state_conflict", "\(status)")
        }
        #expect(try next(.archived, .restore).get() == .active)
        #expect(code(next(.canary10, .supersede)) == "bundle_state_conflict")
    }

    @Test func sharesFollowTheStage() {
        #expect(BundleStatus.allCases.map(\.share) == [0, 0, 10, 50, 100, 0])
        #expect(BundleStatus.allCases.filter(\.decides) == [.canary10, .canary50, .active])
    }

    @Test(arguments: [
        ("2.1.4", "2.1.3", true), ("2.2.0", "2.1.3", true), ("3.0.0", "2.1.3", true),
        ("2.1.5", "2.1.3", false), ("2.3.0", "2.1.3", false), ("4.0.0", "2.1.3", false), ("2.2.1", "2.1.3", false),
        ("2.1.3", "2.1.3", false), ("2.1.2", "2.1.3", false), ("1.0.0", "2.1.3", false),
        ("2.2.0-rc.1", "2.1.3", true), ("2.2.0", "2.2.0-rc.1", true), ("2.2.0-rc.2", "2.2.0-rc.1", true), ("2.2.0-rc.0", "2.2.0-rc.1", false),
    ])
    func versionsMayNotSkip(_ next: String, _ latest: String, _ allowed: Bool) {
        #expect(SemanticVersion(next)!.follows(SemanticVersion(latest)!) == allowed)
    }

    @Test func anyFirstVersionIsAllowed() {
        #expect(SemanticVersion("7.3.1")!.follows(nil))
    }
}
