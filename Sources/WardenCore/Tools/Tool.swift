public import Foundation

/// How dangerous a tool is; shown to operators and given to policies.
public enum Risk: String, Sendable, Codable, CaseIterable {
    case low, medium, high, critical
}

/// Who must agree before an allowed call runs.
public enum ApprovalLevel: String, Sendable, Codable, CaseIterable {
    case autoApprove = "auto_approve"
    case manualApprove = "manual_approve"
    case twoPerson = "two_person"
}

/// A tool an agent may call, registered per tenant.
public struct Tool: Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    public var name: String
    public var description: String
    public var risk: Risk
    /// The actions agents may ask for; anything else is a capability violation.
    public var capabilities: [String]
    public var approvalLevel: ApprovalLevel
    public var endpoint: String?
    /// How to undo a call of this tool (for example the compensating tool's name); `nil` if it cannot be undone.
    public var compensation: String?
    /// `false` while the kill switch is on.
    public var isActive: Bool
    /// Increases by one with every kill and restore, so adapters can say which state they have applied.
    public var stateVersion: Int
    /// Why the tool was last killed or restored.
    public var stateReason: String?
    public var stateChangedAt: Date?
    public var stateChangedBy: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: UUID, tenantID: UUID, name: String, description: String, risk: Risk, capabilities: [String],
        approvalLevel: ApprovalLevel, endpoint: String?, compensation: String?, isActive: Bool = true, stateVersion: Int = 1,
        stateReason: String? = nil, stateChangedAt: Date? = nil, stateChangedBy: String? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.description = description
        self.risk = risk
        self.capabilities = capabilities
        self.approvalLevel = approvalLevel
        self.endpoint = endpoint
        self.compensation = compensation
        self.isActive = isActive
        self.stateVersion = stateVersion
        self.stateReason = stateReason
        self.stateChangedAt = stateChangedAt
        self.stateChangedBy = stateChangedBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// An adapter's acknowledgement that it applied a tool's state.
public struct AdapterAck: Sendable, Equatable {
    public var toolID: UUID
    public var adapterID: String
    public var stateVersion: Int
    public var acknowledgedAt: Date

    public init(toolID: UUID, adapterID: String, stateVersion: Int, acknowledgedAt: Date) {
        self.toolID = toolID
        self.adapterID = adapterID
        self.stateVersion = stateVersion
        self.acknowledgedAt = acknowledgedAt
    }
}

extension Tool {
    /// Tool names and actions: 1–100 characters of letters, digits, `_`, `-`, `.` and `:`.
    public static func validate(identifier: String, field: String) throws(WardenError) {
        guard (1...100).contains(identifier.utf8.count) else {
            throw WardenError(.invalidField, "\(field) must be 1 to 100 characters long")
        }
        for byte in identifier.utf8 {
            let ok =
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
            guard ok else { throw WardenError(.invalidField, "\(field) may contain only letters, digits, '_', '-', '.' and ':'") }
        }
    }

    public static func validate(capabilities: [String]) throws(WardenError) {
        guard capabilities.count <= 100 else { throw WardenError(.invalidField, "capabilities may list at most 100 actions") }
        for capability in capabilities { try validate(identifier: capability, field: "capabilities[]") }
        guard Set(capabilities).count == capabilities.count else { throw WardenError(.invalidField, "capabilities must not repeat an action") }
    }

    public static func validate(text: String?, field: String, max: Int) throws(WardenError) {
        guard let text else { return }
        guard text.count <= max else { throw WardenError(.invalidField, "\(field) must be at most \(max) characters") }
    }

    public static func validate(endpoint: String?) throws(WardenError) {
        guard let endpoint else { return }
        try validate(text: endpoint, field: "endpoint", max: 2000)
        guard let url = URL(string: endpoint), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
            throw WardenError(.invalidField, "endpoint must be an http or https URL")
        }
    }
}
