public import Foundation

/// A state change adapters must follow, numbered per tenant so a stream can resume after the last one seen.
public struct TenantEvent: Sendable, Equatable {
    public var tenantID: UUID
    /// 1, 2, 3, … per tenant; the SSE event id.
    public var sequence: Int64
    /// `tool.registered`, `tool.updated`, `tool.killed`, `tool.restored`.
    public var type: String
    public var data: JSONValue
    public var createdAt: Date

    public init(tenantID: UUID, sequence: Int64, type: String, data: JSONValue, createdAt: Date) {
        self.tenantID = tenantID
        self.sequence = sequence
        self.type = type
        self.data = data
        self.createdAt = createdAt
    }
}
