public import Foundation

/// How sensitive a field is. `secret` values are never stored: a keyed fingerprint takes their place.
public enum DataLabel: String, Sendable, Codable, CaseIterable {
    case `public`, `internal`, confidential, pii, secret
}

/// Labels on fields: `{"input.api_key": "secret", "output.customer.email": "pii"}`. Paths are dotted
/// from a document's root (`input`, `output`, `prompt`, `response`, …); a number selects an array
/// element.
public enum Redaction {
    /// Reads a `labels` object whose paths start with one of `roots` (at most 100 of them).
    public static func labels(_ value: JSONValue?, roots: [String] = ["input"]) throws(WardenError) -> [String: DataLabel] {
        guard let value, value != .null else { return [:] }
        let example = "{\"\(roots[0]).api_key\": \"secret\"}"
        guard case .object(let object) = value, object.count <= 100 else {
            throw WardenError(.invalidField, "labels must be an object of at most 100 field paths to labels, e.g. \(example)")
        }
        var labels: [String: DataLabel] = [:]
        for (path, label) in object {
            let segments = path.split(separator: ".", omittingEmptySubsequences: false)
            guard let root = segments.first, roots.contains(String(root)), path.count <= 300, !segments.contains(where: \.isEmpty) else {
                throw WardenError(
                    .invalidField, "labels: '\(path)' is not a field path under \(roots.joined(separator: ", ")) (e.g. \(roots[0]).customer.email)")
            }
            guard case .string(let name) = label, let parsed = DataLabel(rawValue: name) else {
                throw WardenError(
                    .invalidField, "labels: '\(path)' needs one of \(DataLabel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            labels[path] = parsed
        }
        return labels
    }

    /// The document as stored: every `secret` value replaced by `[redacted secret <fingerprint>]`.
    public static func storing(_ document: JSONValue, labels: [String: DataLabel], fingerprint: (JSONValue) -> String) -> JSONValue {
        replacing(document, labels: labels) { label, value in label == .secret ? .string("[redacted secret \(fingerprint(value))]") : nil }
    }

    /// The document for receivers outside Warden (webhooks, strict exports): `pii`, `confidential`
    /// and `secret` values replaced by `[redacted <label>]`.
    public static func strict(_ document: JSONValue, labels: [String: DataLabel]) -> JSONValue {
        replacing(document, labels: labels) { label, _ in
            label == .pii || label == .confidential || label == .secret ? .string("[redacted \(label.rawValue)]") : nil
        }
    }

    /// A tool call's input under `input.…` labels (as approval requests keep it).
    public static func storing(input: JSONValue, labels: [String: DataLabel], fingerprint: (JSONValue) -> String) -> JSONValue {
        unwrap(storing(.object(["input": input]), labels: labels, fingerprint: fingerprint))
    }

    public static func strict(input: JSONValue, labels: [String: DataLabel]) -> JSONValue {
        unwrap(strict(.object(["input": input]), labels: labels))
    }

    static func unwrap(_ document: JSONValue, key: String = "input") -> JSONValue {
        if case .object(let fields) = document, let input = fields[key] { return input }
        return document
    }

    static func replacing(
        _ document: JSONValue, labels: [String: DataLabel], _ replacement: (DataLabel, JSONValue) -> JSONValue?
    ) -> JSONValue {
        var result = document
        // Shorter paths first, so a labelled parent wins over its children.
        for (path, label) in labels.sorted(by: { $0.key.count < $1.key.count }) {
            let segments = path.split(separator: ".").map(String.init)
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
