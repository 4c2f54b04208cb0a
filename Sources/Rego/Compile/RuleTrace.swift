/// One rule definition that produced a value during an explained evaluation: which rule (its full
/// path), where it is written, and what it gave (for a partial set rule, one element).
public struct RuleTrace: Sendable, Equatable {
    /// `data.` and the rule's path, such as `data.warden.decision`.
    public var rule: String
    public var file: String
    public var line: Int
    public var value: Value
    /// Whether this was the rule's `default` definition.
    public var isDefault: Bool

    init(entry: RuleTree.Entry, location: Location, value: Value) {
        rule = "data." + entry.staticPath.joined(separator: ".")
        file = location.file
        line = location.line
        self.value = value
        isDefault = entry.rule.isDefault
    }
}
