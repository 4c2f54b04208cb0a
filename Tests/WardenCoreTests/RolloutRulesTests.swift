import Foundation
import Testing

@testable import WardenCore

/// The runbook's decision matrix, the automatic-rollback triggers and the quality gates: pure functions.
@Suite struct RolloutRulesTests {
    @Test(arguments: [
        // (age in hours, error rate, verdict)
        (0.5, 0.06, RollbackMatrix.Verdict.rollback), (0.5, 0.05, .monitor), (1.99, 0.051, .rollback),
        (2.0, 0.06, .monitor), (2.0, 0.11, .rollback), (11.9, 0.10, .monitor), (11.9, 0.101, .rollback),
        (12.0, 0.12, .monitor), (12.0, 0.16, .rollback), (23.9, 0.15, .monitor),
        (24.0, 0.16, .monitor), (24.0, 0.21, .investigate), (200.0, 0.99, .investigate), (200.0, 0.0, .monitor),
    ])
    func decisionMatrix(_ hours: Double, _ errorRate: Double, _ expected: RollbackMatrix.Verdict) {
        #expect(RollbackMatrix.verdict(age: hours * 3600, errorRate: errorRate) == expected)
    }

    static func stats(_ samples: Int, errors: Int = 0, denies: Int = 0, noMatches: Int = 0, cost: Double? = nil) -> CohortStats {
        CohortStats(
            samples: samples, errors: errors, denies: denies, noMatches: noMatches, costSum: (cost ?? 0) * Double(samples),
            costSamples: cost == nil ? 0 : samples)
    }

    @Test func autoRollbackTriggers() {
        let baseline = Self.stats(1000, errors: 10, denies: 100, cost: 2)
        #expect(AutoRollback.triggers(canary: Self.stats(100, errors: 2, denies: 20, cost: 2), baseline: baseline).isEmpty)
        #expect(AutoRollback.triggers(canary: Self.stats(100, errors: 11), baseline: Self.stats(0)).first?.hasPrefix("error rate 11 %") == true)
        // Twice the baseline's error rate trips even below 10 %.
        #expect(AutoRollback.triggers(canary: Self.stats(100, errors: 3), baseline: baseline).count == 1)
        #expect(AutoRollback.triggers(canary: Self.stats(100, denies: 51), baseline: baseline) == ["deny rate 51 % (limit 50 %)"])
        #expect(AutoRollback.triggers(canary: Self.stats(100, cost: 3.2), baseline: baseline) == ["cost +60 % over the baseline (limit +50 %)"])
        #expect(AutoRollback.triggers(canary: Self.stats(100, noMatches: 21), baseline: baseline) == ["no-match rate 21 % (limit 20 %)"])
        // Too few samples: wait.
        #expect(AutoRollback.triggers(canary: Self.stats(9, denies: 9), baseline: baseline).isEmpty)
        #expect(AutoRollback.triggers(canary: Self.stats(10, denies: 10), baseline: baseline) == ["deny rate 100 % (limit 50 %)"])
    }

    @Test func gatesNameEachThresholdValueAndVerdict() {
        let thresholds = GateThresholds()
        let passing = RolloutGates.evaluate(
            canary: Self.stats(120, errors: 6, denies: 36, noMatches: 24, cost: 2.4), baseline: Self.stats(900, cost: 2), thresholds: thresholds)
        #expect(passing.map(\.name) == ["min_samples", "error_rate", "deny_rate", "cost_increase", "no_match_rate"])
        #expect(passing.allSatisfy { $0.passed }, "\(passing)")
        #expect(abs((passing[3].value ?? 0) - 0.2) < 1e-9)
        let failing = RolloutGates.evaluate(
            canary: Self.stats(120, errors: 7, denies: 37, noMatches: 25, cost: 2.5), baseline: Self.stats(900, cost: 2), thresholds: thresholds)
        #expect(failing.map(\.passed) == [true, false, false, false, false])
        let empty = RolloutGates.evaluate(canary: CohortStats(), baseline: CohortStats(), thresholds: thresholds)
        #expect(empty.map(\.passed) == [false, false, false, true, false])
        #expect(empty[1].value == nil)
    }

    @Test func incidentNumbers() {
        #expect(Incident.number(year: 2026, sequence: 7) == "INC-2026-0007")
        #expect(Incident.number(year: 2026, sequence: 12345) == "INC-2026-12345")
        #expect(Incident.Severity.high > .medium && Incident.Severity.critical > .high)
    }
}
