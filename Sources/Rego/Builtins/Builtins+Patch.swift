import Foundation

/// `json.patch`: RFC 6902 operations (add, remove, replace, move, copy, test) on objects, arrays and
/// sets, with paths as `a/b` strings (JSON Pointer escapes `~0` `~1`) or arrays of keys. A patch
/// that cannot apply makes the result undefined, as in OPA.
extension Builtins {
    static let patch: [String: Builtin] = [
        "json.patch": binary { document, operations in
            var current = document
            for operation in try array(operations, 2) {
                guard case .object(let fields) = operation, case .string(let op)? = fields[.string("op")] else {
                    throw BuiltinError.operand(2, "an array of patch operations", operations)
                }
                guard let pathValue = fields[.string("path")] else { throw BuiltinError.failed("missing required attribute 'path'") }
                let path = try patchPath(pathValue)
                switch op {
                case "add":
                    guard let value = fields[.string("value")], let next = try patchAdd(current, path[...], value) else { return nil }
                    current = next
                case "remove":
                    guard let next = try patchRemove(current, path[...]) else { return nil }
                    current = next
                case "replace" where path.isEmpty:
                    guard let value = fields[.string("value")] else { return nil }
                    current = value
                case "replace":
                    guard let value = fields[.string("value")], let removed = try patchRemove(current, path[...]),
                        let next = try patchAdd(removed, path[...], value)
                    else { return nil }
                    current = next
                case "move", "copy":
                    guard let fromValue = fields[.string("from")] else { return nil }
                    let from = try patchPath(fromValue)
                    guard let value = try patchGet(current, from[...]) else { return nil }
                    if op == "move" {
                        guard let removed = try patchRemove(current, from[...]) else { return nil }
                        current = removed
                    }
                    guard let next = try patchAdd(current, path[...], value) else { return nil }
                    current = next
                case "test":
                    guard let value = fields[.string("value")], try patchGet(current, path[...]) == value else { return nil }
                default:
                    throw BuiltinError.failed("unrecognized op: '\(op)'")
                }
            }
            return current
        }
    ]

    static func patchPath(_ value: Value) throws -> [Value] {
        switch value {
        case .array(let keys): return keys
        case .string(let text):
            // "" is the whole document; "/" the key "" (JSON Pointer); the leading slash is optional.
            if text.isEmpty { return [] }
            var trimmed = Substring(text)
            if trimmed.hasPrefix("/") { trimmed = trimmed.dropFirst() }
            return trimmed.split(separator: "/", omittingEmptySubsequences: false).map {
                .string($0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~"))
            }
        default: throw BuiltinError.failed("patch path must be a string or an array")
        }
    }

    /// An array index from a path key: a number, or a decimal string; `-` means the end for add.
    static func patchIndex(_ key: Value, count: Int, forAdd: Bool) throws -> Int? {
        switch key {
        case .number(let number): return number.intValue.flatMap { $0 >= 0 && $0 <= (forAdd ? count : count - 1) ? $0 : nil }
        case .string("-") where forAdd: return count
        case .string(let text):
            if text.count > 1, text.hasPrefix("0"), text.allSatisfy(\.isNumber) {
                throw BuiltinError.failed("leading zeros are not allowed in JSON paths")
            }
            guard let index = Int(text), index >= 0, index <= (forAdd ? count : count - 1) else { return nil }
            return index
        default: return nil
        }
    }

    static func patchGet(_ value: Value, _ path: ArraySlice<Value>) throws -> Value? {
        guard let key = path.first else { return value }
        switch value {
        case .object(let fields):
            guard let child = fields[key] else { return nil }
            return try patchGet(child, path.dropFirst())
        case .array(let items):
            guard let index = try patchIndex(key, count: items.count, forAdd: false) else { return nil }
            return try patchGet(items[index], path.dropFirst())
        case .set(let items):
            return items.contains(key) ? try patchGet(key, path.dropFirst()) : nil
        default: return nil
        }
    }

    static func patchAdd(_ value: Value, _ path: ArraySlice<Value>, _ new: Value) throws -> Value? {
        guard let key = path.first else { return new }
        let rest = path.dropFirst()
        switch value {
        case .object(var fields):
            if rest.isEmpty {
                fields[key] = new
            } else {
                guard let child = fields[key], let updated = try patchAdd(child, rest, new) else { return nil }
                fields[key] = updated
            }
            return .object(fields)
        case .array(var items):
            guard let index = try patchIndex(key, count: items.count, forAdd: rest.isEmpty) else { return nil }
            if rest.isEmpty {
                items.insert(new, at: index)
            } else {
                guard let updated = try patchAdd(items[index], rest, new) else { return nil }
                items[index] = updated
            }
            return .array(items)
        case .set(var items):
            // A set's element is its own key: adding needs the two to agree.
            if rest.isEmpty {
                guard key == new else { return nil }
                items.insert(new)
            } else {
                guard items.contains(key), let updated = try patchAdd(key, rest, new) else { return nil }
                items.remove(key)
                items.insert(updated)
            }
            return .set(items)
        default:
            return nil
        }
    }

    static func patchRemove(_ value: Value, _ path: ArraySlice<Value>) throws -> Value? {
        guard let key = path.first else { return nil }
        let rest = path.dropFirst()
        switch value {
        case .object(var fields):
            guard let child = fields[key] else { return nil }
            if rest.isEmpty {
                fields[key] = nil
            } else {
                guard let updated = try patchRemove(child, rest) else { return nil }
                fields[key] = updated
            }
            return .object(fields)
        case .array(var items):
            guard let index = try patchIndex(key, count: items.count, forAdd: false) else { return nil }
            if rest.isEmpty {
                items.remove(at: index)
            } else {
                guard let updated = try patchRemove(items[index], rest) else { return nil }
                items[index] = updated
            }
            return .array(items)
        case .set(var items):
            guard items.contains(key) else { return nil }
            items.remove(key)
            if !rest.isEmpty {
                guard let updated = try patchRemove(key, rest) else { return nil }
                items.insert(updated)
            }
            return .set(items)
        default:
            return nil
        }
    }
}
