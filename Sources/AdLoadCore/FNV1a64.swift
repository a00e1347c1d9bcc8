/// FNV-1a 64-bit hashing (offset basis 0xcbf29ce484222325, prime 0x100000001b3): the
/// checksum of policy files and the fingerprint of feature layouts.
package enum FNV1a64 {
    /// The hash of the UTF-8 bytes of `text`.
    package static func hash(_ text: String) -> UInt64 {
        hash(text.utf8)
    }

    /// The hash of `bytes`.
    package static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// `fnv1a64:` followed by the hash of `text` as 16 lowercase hex digits.
    package static func tagged(_ text: String) -> String {
        let hex = String(hash(text), radix: 16)
        return "fnv1a64:" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
