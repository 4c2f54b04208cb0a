import Foundation

extension Builtins {
    static let encoding: [String: Builtin] = [
        "base64.encode": unary { value in .string(Data(try string(value, 1).utf8).base64EncodedString()) },
        "base64.decode": unary { value in
            guard let data = Data(base64Encoded: try string(value, 1)) else { throw BuiltinError.failed("illegal base64 data") }
            return .string(String(decoding: data, as: UTF8.self))
        },
        "base64url.encode": unary { value in
            .string(
                Data(try string(value, 1).utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                    .replacingOccurrences(of: "/", with: "_")
            )
        },
        "base64url.decode": unary { value in
            var text = try string(value, 1).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while text.count % 4 != 0 { text += "=" }
            guard let data = Data(base64Encoded: text) else { throw BuiltinError.failed("illegal base64 data") }
            return .string(String(decoding: data, as: UTF8.self))
        },
        "hex.encode": unary { value in .string(try string(value, 1).utf8.map { String(format: "%02x", $0) }.joined()) },
        "hex.decode": unary { value in
            let text = Array(try string(value, 1).utf8)
            guard text.count % 2 == 0 else { throw BuiltinError.failed("odd length hex string") }
            var bytes: [UInt8] = []
            for index in stride(from: 0, to: text.count, by: 2) {
                guard let byte = UInt8(String(decoding: text[index..<index + 2], as: UTF8.self), radix: 16) else {
                    throw BuiltinError.failed("invalid byte in hex string")
                }
                bytes.append(byte)
            }
            return .string(String(decoding: bytes, as: UTF8.self))
        },
    ]
}
