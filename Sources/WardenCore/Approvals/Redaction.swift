public import Foundation

/// How sensitive a field is. `secret` values are never stored: a keyed fingerprint takes their place.
public enum DataLabel: String, Sendable, Codable, CaseIterable {
    case `public`, `internal`, confidential, pii, secret
}

/// Labels on the fields of a tool call's input: `{"input.api_key": "secret", "input.customer.email": "pii"}`.
/// Paths are dotted; a number selects an array element.
public enum Redaction {
    /// Reads a `labels` object; paths must start with `input.` (at most 100 of them).
    public static func labels(_ value: JSONValue?) throws(WardenError) -> [String: DataLabel] {
        guard let value, value != .null else { return [:] }
        guard case .object(let object) = value, object.count <= 100 else {
            throw WardenError(.invalidField, "labels must be an object of at most 100 field paths to labels, e.g. {\"input.api_key\": \"secret\"}")
        }
        var labels: [String: DataLabel] = [:]
        for (path, label) in object {
            guard path.hasPrefix("input."), path.count > 6, path.count <= 300, !path.contains("..") else {
                throw WardenError(.invalidField, "labels: '\(path)' is not a field path under input (e.g. input.customer.email)")
            }
            guard case .string(let name) = label, let parsed = DataLabel(rawValue: name) else {
                throw WardenError(
                    .invalidField, "labels: '\(path)' needs one of \(DataLabel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            labels[path] = parsed
        }
        return labels
    }

    /// The input as stored: every `secret` value replaced by `[redacted secret <fingerprint>]`.
    public static func storing(_ input: JSONValue, labels: [String: DataLabel], fingerprint: (JSONValue) -> String) -> JSONValue {
        replacing(input, labels: labels) { label, value in label == .secret ? .string("[redacted secret \(fingerprint(value))]") : nil }
    }

    /// The input for receivers outside Warden (webhooks): `pii`, `confidential` and `secret` values
    /// replaced by `[redacted <label>]`.
    public static func strict(_ input: JSONValue, labels: [String: DataLabel]) -> JSONValue {
        replacing(input, labels: labels) { label, _ in
            label == .pii || label == .confidential || label == .secret ? .string("[redacted \(label.rawValue)]") : nil
        }
    }

    static func replacing(
        _ input: JSONValue, labels: [String: DataLabel], _ replacement: (DataLabel, JSONValue) -> JSONValue?
    ) -> JSONValue {
        var result = input
        // Shorter paths first, so a labelled parent wins over its children.
        for (path, label) in labels.sorted(by: { $0.key.count < $1.key.count }) {
            let segments = path.dropFirst("input.".count).split(separator: ".").map(String.init)
            result = replace(result, at: segments[...]) { replacement(label, $0) }
        }
        return result
    }

    static func replace(_ value: JSONValue, at path: ArraySlice<String>, _ replacement: (JSONValue) -> JSONValue?) -> JSONValue {
        guard let head = path.first else { return replacement(value) ?? value }
        switch value {
        case .object(var object):
            guard let child = object[head] else { return value }
            object[head] = replace(child, at: path.dropFirst(), replacement)
            return .object(object)
        case .array(var array):
            guard let index = Int(head), array.indices.contains(index) else { return value }
            array[index] = replace(array[index], at: path.dropFirst(), replacement)
            return .array(array)
        default:
            return value
        }
    }
}
