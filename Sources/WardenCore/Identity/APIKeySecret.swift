internal import Crypto
public import Foundation

/// Makes and hashes API key secrets. A secret is `wdn_` followed by 43 base64url characters
/// (32 random bytes). Because secrets are long and random, a single SHA-256 is the right hash:
/// a slow password hash would add nothing against guessing and would slow every request.
public enum APIKeySecret {
    public static let scheme = "wdn_"
    /// How many characters of the secret (after the scheme) are kept in clear to tell keys apart.
    public static let prefixLength = 8

    public static func generate(using random: any RandomSource) -> String {
        scheme + Base64URL.encode(random.bytes(32))
    }

    public static func hash(_ secret: String) -> String {
        let digest = SHA256.hash(data: Data(secret.utf8))
        return digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    public static func prefix(of secret: String) -> String {
        String(secret.dropFirst(secret.hasPrefix(scheme) ? scheme.count : 0).prefix(prefixLength))
    }

    /// The shortest `WARDEN_ADMIN_TOKEN` accepted: short tokens are guessable.
    public static let minimumSuppliedLength = 24
}

/// base64url without padding (RFC 4648 §5).
public enum Base64URL {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        return Data(base64Encoded: base64).map(Array.init)
    }
}
