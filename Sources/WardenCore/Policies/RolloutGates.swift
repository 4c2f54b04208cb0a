public import Foundation

/// What a cohort's decisions looked like over a window.
public struct CohortStats: Sendable, Equatable {
    public var samples: Int
    /// Decisions whose policy failed (`policy_error`, `policy_unavailable`).
    public var errors: Int
    public var denies: Int
    /// Decisions where the entry point was undefined (`no_match`).
    public var noMatches: Int
    /// The sum and count of the decisions that carried a cost.
    public var costSum: Double
    public var costSamples: Int

    public init(samples: Int = 0, errors: Int = 0, denies: Int = 0, noMatches: Int = 0, costSum: Double = 0, costSamples: Int = 0) {
        self.samples = samples
        self.errors = errors
        self.denies = denies
        self.noMatches = noMatches
        self.costSum = costSum
        self.costSamples = costSamples
    }

    public var errorRate: Double? { samples > 0 ? Double(errors) / Double(samples) : nil }
    public var denyRate: Double? { samples > 0 ? Double(denies) / Double(samples) : nil }
    public var noMatchRate: Double? { samples > 0 ? Double(noMatches) / Double(samples) : nil }
    public var averageCost: Double? { costSamples > 0 ? costSum / Double(costSamples) : nil }
}

/// The quality gates' thresholds (per tenant; these are the defaults).
public struct GateThresholds: Sendable, Equatable, Codable, CustomStringConvertible {
    public var minSamples: Int = 100
    public var maxErrorRate: Double = 0.05
    public var maxDenyRate: Double = 0.30
    /// The canary's average cost over the baseline's, minus one.
    public var maxCostIncrease: Double = 0.20
    public var maxNoMatchRate: Double = 0.20

    public init() {}

    /// As the audit trail shows them.
    public var description: String {
        "min_samples=\(minSamples) max_error_rate=\(maxErrorRate) max_deny_rate=\(maxDenyRate) max_cost_increase=\(maxCostIncrease) max_no_match_rate=\(maxNoMatchRate)"
    }

    enum CodingKeys: String, CodingKey {
        case minSamples = "min_samples"
        case maxErrorRate = "max_error_rate"
        case maxDenyRate = "max_deny_rate"
        case maxCostIncrease = "max_cost_increase"
        case maxNoMatchRate = "max_no_match_rate"
    }

    /// These thresholds with the given fields replaced (`{min_samples?, max_error_rate?, …}`); unknown
    /// fields and out-of-range values are refused.
    public func merging(_ fields: [String: JSONValue]) throws(WardenError) -> GateThresholds {
        var result = self
        for (key, value) in fields {
            let number: Double
            switch value {
            case .int(let int): number = Double(int)
            case .double(let double): number = double
            default: throw WardenError(.invalidField, "rollout.\(key) must be a number")
            }
            func rate() throws(WardenError) -> Double {
                guard number >= 0, number <= 1 else { throw WardenError(.invalidField, "rollout.\(key) must be a fraction from 0 to 1") }
                return number
            }
            switch key {
            case "min_samples":
                guard number == number.rounded(), number >= 1, number <= 1_000_000 else {
                    throw WardenError(.invalidField, "rollout.min_samples must be a whole number from 1 to 1000000")
                }
                result.minSamples = Int(number)
            case "max_error_rate": result.maxErrorRate = try rate()
            case "max_deny_rate": result.maxDenyRate = try rate()
            case "max_no_match_rate": result.maxNoMatchRate = try rate()
            case "max_cost_increase":
                guard number >= 0, number <= 100 else { throw WardenError(.invalidField, "rollout.max_cost_increase must be from 0 to 100") }
                result.maxCostIncrease = number
            default:
                throw WardenError(
                    .invalidField,
                    "unknown field 'rollout.\(key)'; set min_samples, max_error_rate, max_deny_rate, max_cost_increase, max_no_match_rate")
            }
        }
        return result
    }
}

/// One gate's verdict.
public struct GateResult: Sendable, Equatable {
    public var name: String
    public var threshold: Double
    /// `nil` when there is nothing to measure (no samples, or no baseline cost to compare with).
    public var value: Double?
    public var passed: Bool
}

/// The canary's quality gates, against the baseline over the same window. Pure.
public enum RolloutGates {
    public static func evaluate(canary: CohortStats, baseline: CohortStats, thresholds: GateThresholds) -> [GateResult] {
        func atMost(_ name: String, _ value: Double?, _ limit: Double) -> GateResult {
            // Without samples the rate gates cannot pass: the sample gate says why.
            GateResult(name: name, threshold: limit, value: value, passed: value.map { $0 <= limit } ?? false)
        }
        let increase: Double? =
            if let canaryCost = canary.averageCost, let baseCost = baseline.averageCost, baseCost > 0 { canaryCost / baseCost - 1 } else { nil }
        return [
            GateResult(
                name: "min_samples", threshold: Double(thresholds.minSamples), value: Double(canary.samples),
                passed: canary.samples >= thresholds.minSamples),
            atMost("error_rate", canary.errorRate, thresholds.maxErrorRate),
            atMost("deny_rate", canary.denyRate, thresholds.maxDenyRate),
            // No baseline cost (or none in the canary): nothing to compare, so the gate does not block.
            GateResult(
                name: "cost_increase", threshold: thresholds.maxCostIncrease, value: increase,
                passed: increase.map { $0 <= thresholds.maxCostIncrease } ?? true),
            atMost("no_match_rate", canary.noMatchRate, thresholds.maxNoMatchRate),
        ]
    }
}
