public import Foundation

/// The rollout rules of a bundle, as a pure state machine (no I/O, no clock of its own):
///
///     draft → approved → canary_10 → canary_50 → active → archived
///
/// - `approve`: a draft becomes approved, by someone other than its author.
/// - `promote(to:)`: forward only, one stage or more (a skip, such as approved → active, must be forced
///   with a reason). Leaving a canary stage needs its minimum time and passing gates, unless forced.
/// - `rollback`: any canary or active stage ends, archived and read-only; a rolled-back active
///   bundle hands back to the bundle it replaced.
/// - `supersede`: the active bundle is archived when another one becomes active.
public enum BundleLifecycle {
    public enum Action: Sendable, Equatable {
        case approve
        case promote(to: BundleStatus)
        case rollback
        case supersede
        /// The bundle a rolled-back active bundle had replaced becomes active again.
        case restore
    }

    /// What a transition needs to know beyond the two states.
    public struct Context: Sendable {
        /// Who acts, and who wrote the bundle.
        public var actor: String
        public var author: String
        /// A forced promotion skips stages, the minimum time and the gates; it needs a reason.
        public var force: Bool
        public var reason: String?
        /// How long the bundle has been in its current stage, and how long it must stay.
        public var timeInStage: TimeInterval
        public var minimumStageTime: TimeInterval
        /// Whether the canary's quality gates pass now (`nil`: not evaluated).
        public var gatesPass: Bool?

        public init(
            actor: String, author: String, force: Bool = false, reason: String? = nil, timeInStage: TimeInterval = 0,
            minimumStageTime: TimeInterval = 0, gatesPass: Bool? = nil
        ) {
            self.actor = actor
            self.author = author
            self.force = force
            self.reason = reason
            self.timeInStage = timeInStage
            self.minimumStageTime = minimumStageTime
            self.gatesPass = gatesPass
        }
    }

    /// The order of the stages a bundle moves through.
    static let ladder: [BundleStatus] = [.draft, .approved, .canary10, .canary50, .active]

    /// The state after `action`, or the error that refuses it.
    public static func next(_ status: BundleStatus, _ action: Action, _ context: Context, version: SemanticVersion) throws(WardenError)
        -> BundleStatus
    {
        switch action {
        case .approve:
            guard status == .draft else {
                throw WardenError(.bundleStateConflict, "bundle \(version) is \(status.rawValue); only a draft can be approved")
            }
            guard context.actor != context.author else {
                throw WardenError(.forbidden, "bundle \(version) was written by \(context.actor); someone else must approve it")
            }
            return .approved
        case .promote(let target):
            guard let from = ladder.firstIndex(of: status), status != .draft, status != .active else {
                switch status {
                case .draft:
                    throw WardenError(
                        .bundleNotApproved,
                        "bundle \(version) is a draft; it must be approved (POST …/approve) by someone other than its author first")
                case .active: throw WardenError(.bundleAlreadyActive, "bundle \(version) is already active")
                default: throw WardenError(.bundleImmutable, "bundle \(version) is \(status.rawValue) and cannot be promoted")
                }
            }
            guard let to = ladder.firstIndex(of: target), to > from else {
                throw WardenError(
                    .invalidField,
                    "bundle \(version) is \(status.rawValue); it can be promoted to \(ladder[(from + 1)...].map(\.rawValue).joined(separator: ", "))"
                )
            }
            if context.force {
                guard let reason = context.reason, !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw WardenError(.missingField, "a forced promotion needs a reason")
                }
                return target
            }
            guard to == from + 1 else {
                throw WardenError(
                    .rolloutGateFailed,
                    "bundle \(version) is \(status.rawValue); promote one stage at a time (next: \(ladder[from + 1].rawValue)), or force with a reason"
                )
            }
            if status.isCanary {
                guard context.timeInStage >= context.minimumStageTime else {
                    let left = Int((context.minimumStageTime - context.timeInStage).rounded(.up))
                    throw WardenError(
                        .rolloutGateFailed,
                        "bundle \(version) has been \(status.rawValue) for \(Int(context.timeInStage)) s of the \(Int(context.minimumStageTime)) s minimum (\(left) s left); force with a reason to promote now"
                    )
                }
                guard context.gatesPass == true else {
                    throw WardenError(
                        .rolloutGateFailed,
                        "bundle \(version)'s quality gates do not pass (see …/canary-status); force with a reason to promote anyway")
                }
            }
            return target
        case .rollback:
            guard status.isCanary || status == .active else {
                throw WardenError(
                    .bundleStateConflict, "bundle \(version) is \(status.rawValue); only a canary or active bundle can be rolled back")
            }
            guard let reason = context.reason, !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw WardenError(.missingField, "a rollback needs a reason")
            }
            return .archived
        case .supersede:
            guard status == .active else { throw WardenError(.bundleStateConflict, "only the active bundle is superseded") }
            return .archived
        case .restore:
            guard status == .archived else { throw WardenError(.bundleStateConflict, "only an archived bundle can be restored") }
            return .active
        }
    }
}

extension BundleStatus {
    /// A canary stage: the bundle decides for a share of the tenant's decisions.
    public var isCanary: Bool { self == .canary10 || self == .canary50 }

    /// The share of decisions (percent) a bundle in this stage decides.
    public var share: Int {
        switch self {
        case .canary10: 10
        case .canary50: 50
        case .active: 100
        default: 0
        }
    }

    /// A stage that decides (some or all) decisions.
    public var decides: Bool { isCanary || self == .active }
}

/// One entry of a bundle's history: every lifecycle change, with who, why and when.
public struct BundleTransition: Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    public var bundleID: UUID
    public var from: BundleStatus
    public var to: BundleStatus
    public var actor: String
    public var reason: String?
    /// Forced past the stage order, the minimum time or the gates.
    public var forced: Bool
    public var createdAt: Date

    public init(
        id: UUID, tenantID: UUID, bundleID: UUID, from: BundleStatus, to: BundleStatus, actor: String, reason: String?, forced: Bool = false,
        createdAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.bundleID = bundleID
        self.from = from
        self.to = to
        self.actor = actor
        self.reason = reason
        self.forced = forced
        self.createdAt = createdAt
    }
}

extension SemanticVersion {
    /// Whether `self` may follow `latest` (the highest version so far) without skipping one: the next
    /// patch, minor or major (`2.1.3` → `2.1.4`, `2.2.0` or `3.0.0`), or a pre-release of one of those.
    /// With no earlier version, anything goes.
    public func follows(_ latest: SemanticVersion?) -> Bool {
        guard let latest else { return true }
        let core = (major, minor, patch)
        var allowed = [
            (latest.major, latest.minor, latest.patch + 1), (latest.major, latest.minor + 1, 0), (latest.major + 1, 0, 0),
        ]
        // After a pre-release (2.0.0-rc.1), its release (2.0.0) or a later pre-release of it is next too.
        if !latest.prerelease.isEmpty { allowed.append((latest.major, latest.minor, latest.patch)) }
        guard allowed.contains(where: { $0 == core }) else { return false }
        return self > latest
    }

    /// The versions that may follow this one, for error messages.
    public var successors: [String] {
        ["\(major).\(minor).\(patch + 1)", "\(major).\(minor + 1).0", "\(major + 1).0.0"]
    }
}
