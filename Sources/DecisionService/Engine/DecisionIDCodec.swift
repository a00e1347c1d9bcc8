import AdLoadCore
import Synchronization

/// Makes and checks decision ids without any store lookup.
///
/// An id is `<time>-<nonce>-<check>`: the decision time in Unix milliseconds in base 36, a
/// per-decision nonce in base 36 (a bijective mix of a per-instance random key and a
/// counter, so one instance never repeats one), and 16 lowercase hex digits of a keyed
/// 64-bit hash of (secret, user id, `<time>-<nonce>`): FNV-1a 64 finished with SplitMix64.
/// Feedback for an id that does not verify for its user is refused without asking the
/// store. The secret is configuration shared by every instance; this is integrity against
/// mistakes (another user's id, a truncated or invented one), not against adversaries:
/// FNV is not a MAC.
final class DecisionIDCodec: Sendable {
    /// The length of the check part, hex digits.
    static let checkLength = 16
    /// Longest id accepted by ``verify(_:userID:)`` (13 + 1 + 13 + 1 + 16).
    static let maxLength = 44

    let secret: [UInt8]
    let instanceKey: UInt64
    let counter = Atomic<UInt64>(0)

    /// Creates a codec.
    /// - Parameters:
    ///   - secret: The shared key of the check.
    ///   - instanceKey: Seeds the nonces; random by default so that instances do not collide.
    init(secret: String, instanceKey: UInt64 = UInt64.random(in: 0...UInt64.max)) {
        self.secret = Array(secret.utf8)
        self.instanceKey = instanceKey
    }

    /// A fresh id for a decision for `userID` at `timeMilliseconds` (Unix time).
    /// - Complexity: O(length of the user id).
    func make(userID: String, timeMilliseconds: Int64) -> String {
        let sequence = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        let nonce = CounterRandom.mix(instanceKey &+ sequence)
        let prefix = String(max(0, timeMilliseconds), radix: 36) + "-" + String(nonce, radix: 36)
        return prefix + "-" + Self.hex(check(userID: userID, prefix: prefix))
    }

    /// Whether `decisionID` is well formed and was made for `userID` with this secret.
    /// - Complexity: O(length of the id and the user id); no allocation.
    func verify(_ decisionID: String, userID: String) -> Bool {
        let bytes = decisionID.utf8
        guard bytes.count <= Self.maxLength, bytes.count > Self.checkLength + 4 else { return false }
        let checkStart = bytes.index(bytes.endIndex, offsetBy: -Self.checkLength)
        let separator = bytes.index(before: checkStart)
        guard bytes[separator] == UInt8(ascii: "-") else { return false }
        let prefix = bytes[bytes.startIndex..<separator]
        var dashes = 0
        var partLength = 0
        for byte in prefix {
            if byte == UInt8(ascii: "-") {
                guard partLength > 0 else { return false }
                dashes += 1
                partLength = 0
            } else {
                guard Self.isBase36(byte), partLength < 13 else { return false }
                partLength += 1
            }
        }
        guard dashes == 1, partLength > 0 else { return false }
        var stated: UInt64 = 0
        for byte in bytes[checkStart...] {
            guard let digit = Self.hexValue(byte) else { return false }
            stated = stated << 4 | UInt64(digit)
        }
        return stated == check(userID: userID, prefixBytes: prefix)
    }

    /// The decision time (Unix milliseconds) an id carries, if it is well formed.
    static func timeMilliseconds(of decisionID: String) -> Int64? {
        guard let part = decisionID.split(separator: "-").first else { return nil }
        return Int64(part, radix: 36)
    }

    /// A stable 64-bit hash of an id, used to key the decision's random stream.
    static func hash(_ decisionID: String) -> UInt64 {
        var hash = fnvOffset
        for byte in decisionID.utf8 { hash = (hash ^ UInt64(byte)) &* fnvPrime }
        return CounterRandom.mix(hash)
    }

    static let fnvOffset: UInt64 = 0xcbf2_9ce4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01b3

    func check(userID: String, prefix: String) -> UInt64 {
        check(userID: userID, prefixBytes: prefix.utf8[...])
    }

    func check(userID: String, prefixBytes: Substring.UTF8View) -> UInt64 {
        var hash = Self.fnvOffset
        for byte in secret { hash = (hash ^ UInt64(byte)) &* Self.fnvPrime }
        // 0xFF never occurs in UTF-8, so the three parts cannot run into each other.
        hash = (hash ^ 0xFF) &* Self.fnvPrime
        for byte in userID.utf8 { hash = (hash ^ UInt64(byte)) &* Self.fnvPrime }
        hash = (hash ^ 0xFF) &* Self.fnvPrime
        for byte in prefixBytes { hash = (hash ^ UInt64(byte)) &* Self.fnvPrime }
        return CounterRandom.mix(hash)
    }

    static func isBase36(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: checkLength - digits.count) + digits
    }
}
