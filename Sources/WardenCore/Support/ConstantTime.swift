/// Comparing secrets (signatures, CSRF tokens) without a timing side channel.
public enum ConstantTime {
    /// Whether `a` and `b` are equal, in time independent of where they differ.
    public static func equal(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
