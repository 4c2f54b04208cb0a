/// The fields a partial update changed, for the audit event: each given value that differs from the
/// current one is applied and its field name noted.
struct FieldChanges {
    private(set) var names: [String] = []

    var isEmpty: Bool { names.isEmpty }

    mutating func apply<Value: Equatable>(_ new: Value?, to current: inout Value, field: String) {
        guard let new, new != current else { return }
        current = new
        names.append(field)
    }
}
