public import Foundation

/// Something went wrong and someone must look: created by an automatic rollback, a manual rollback
/// that asks for one, or a reporter (`POST …/incidents`). Numbered `INC-YYYY-NNNN` per tenant and year.
public struct Incident: Sendable, Equatable {
    public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
        case low, medium, high, critical

        public static func < (lhs: Severity, rhs: Severity) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    public var id: UUID
    public var tenantID: UUID
    public var number: String
    public var severity: Severity
    /// Where it came from: `policy.auto_rollback`, `policy.rollback`, `policy.activate`, or the reporter's own.
    public var source: String
    public var title: String
    public var status: String
    /// The bundle it concerns, if any.
    public var bundleID: UUID?
    /// What Warden did about it: `rollback`, `page_on_call`, `none`.
    public var action: String?
    /// The figures behind it (rates, thresholds, versions), as given or measured.
    public var details: JSONValue
    public var createdBy: String
    public var createdAt: Date

    public init(
        id: UUID, tenantID: UUID, number: String, severity: Severity, source: String, title: String, status: String = "open", bundleID: UUID?,
        action: String?, details: JSONValue, createdBy: String, createdAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.number = number
        self.severity = severity
        self.source = source
        self.title = title
        self.status = status
        self.bundleID = bundleID
        self.action = action
        self.details = details
        self.createdBy = createdBy
        self.createdAt = createdAt
    }

    /// `INC-2026-0042`.
    public static func number(year: Int, sequence: Int) -> String {
        let digits = String(sequence)
        return "INC-\(year)-" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// What to do about a policy incident, from the runbook's decision matrix: the active bundle's age
/// and its error rate. Pure.
public enum RollbackMatrix {
    public enum Verdict: String, Sendable, Equatable {
        /// Roll back now.
        case rollback
        /// The bundle has run a day or more: the error may be unrelated; page on-call to decide.
        case investigate
        /// Below the threshold for its age: watch.
        case monitor
    }

    /// | age | error rate | verdict |
    /// |---|---|---|
    /// | < 2 h | > 5 % | rollback |
    /// | 2–12 h | > 10 % | rollback |
    /// | 12–24 h | > 15 % | rollback |
    /// | ≥ 24 h | > 20 % | investigate |
    /// Anything below its row's rate: monitor.
    public static func verdict(age: TimeInterval, errorRate: Double) -> Verdict {
        let hours = age / 3600
        switch hours {
        case ..<2: return errorRate > 0.05 ? .rollback : .monitor
        case ..<12: return errorRate > 0.10 ? .rollback : .monitor
        case ..<24: return errorRate > 0.15 ? .rollback : .monitor
        default: return errorRate > 0.20 ? .investigate : .monitor
        }
    }
}

/// When a running canary is rolled back without waiting for anyone. Pure.
public enum AutoRollback {
    /// Below this many canary decisions the monitor waits: one early error is not a rate.
    public static let minimumSamples = 10

    /// The reasons to roll back now, empty when there are none: error rate above 10 % (or above twice
    /// the baseline's, when the baseline has errors), deny rate above 50 %, average cost 50 % above the
    /// baseline's, no-match rate above 20 %.
    public static func triggers(canary: CohortStats, baseline: CohortStats) -> [String] {
        guard canary.samples >= minimumSamples, let errorRate = canary.errorRate, let denyRate = canary.denyRate,
            let noMatchRate = canary.noMatchRate
        else { return [] }
        var reasons: [String] = []
        let baselineErrors = baseline.errorRate ?? 0
        if errorRate > 0.10 || (baselineErrors > 0 && errorRate > 2 * baselineErrors) {
            reasons.append("error rate \(percent(errorRate)) (limit 10 % or twice the baseline's \(percent(baselineErrors)))")
        }
        if denyRate > 0.50 { reasons.append("deny rate \(percent(denyRate)) (limit 50 %)") }
        if let canaryCost = canary.averageCost, let baseCost = baseline.averageCost, baseCost > 0, canaryCost / baseCost - 1 > 0.50 {
            reasons.append("cost +\(percent(canaryCost / baseCost - 1)) over the baseline (limit +50 %)")
        }
        if noMatchRate > 0.20 { reasons.append("no-match rate \(percent(noMatchRate)) (limit 20 %)") }
        return reasons
    }

    static func percent(_ value: Double) -> String {
        let tenths = (value * 1000).rounded() / 10
        return tenths == tenths.rounded() ? "\(Int(tenths)) %" : "\(tenths) %"
    }
}
