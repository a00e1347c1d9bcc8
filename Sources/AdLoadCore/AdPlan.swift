/// The set of 1-based feed positions that get an ad in one session: the action a policy
/// takes. Zero ads is a valid plan.
///
/// Stored inline as a 512-bit set so that building, copying and querying a plan never
/// allocates (the simulator and the decision endpoint do this once per session).
public struct AdPlan: Sendable {
    /// The largest feed position a plan can hold.
    public static let maxPosition = 512

    @usableFromInline
    var words: InlineArray<8, UInt64>

    /// A plan with no ads.
    @inlinable
    package init() { words = InlineArray(repeating: 0) }

    /// A plan with ads at the given 1-based positions.
    /// - Throws: `PlacementViolation.positionOutOfRange` for a position outside 1...512.
    package init<S: Sequence<Int>>(positions: S) throws(PlacementViolation) {
        self.init()
        for position in positions {
            guard (1...AdPlan.maxPosition).contains(position) else {
                throw .positionOutOfRange(position: position, feedLength: AdPlan.maxPosition)
            }
            insert(position)
        }
    }

    /// Whether `position` (1-based) holds an ad.
    @inlinable
    package func contains(_ position: Int) -> Bool {
        guard position >= 1 && position <= AdPlan.maxPosition else { return false }
        let bit = position - 1
        return words[bit >> 6] & (1 << UInt64(bit & 63)) != 0
    }

    /// Puts an ad at `position` (1-based, at most `maxPosition`).
    @inlinable
    package mutating func insert(_ position: Int) {
        precondition(position >= 1 && position <= AdPlan.maxPosition, "ad position \(position) outside 1...\(AdPlan.maxPosition)")
        let bit = position - 1
        words[bit >> 6] |= 1 << UInt64(bit & 63)
    }

    /// Removes every ad.
    @inlinable
    package mutating func removeAll() {
        for index in words.indices { words[index] = 0 }
    }

    /// The number of ads in the plan.
    @inlinable
    public var count: Int {
        var total = 0
        for index in words.indices { total += words[index].nonzeroBitCount }
        return total
    }

    /// The ad positions in increasing order (allocates; for reporting and the HTTP answer).
    public var positions: [Int] {
        var result: [Int] = []
        result.reserveCapacity(count)
        for index in words.indices {
            var word = words[index]
            while word != 0 {
                let bit = word.trailingZeroBitCount
                result.append(index * 64 + bit + 1)
                word &= word - 1
            }
        }
        return result
    }
}

extension AdPlan: Equatable {
    @inlinable
    public static func == (lhs: AdPlan, rhs: AdPlan) -> Bool {
        for index in lhs.words.indices where lhs.words[index] != rhs.words[index] { return false }
        return true
    }
}

extension AdPlan: Hashable {
    @inlinable
    public func hash(into hasher: inout Hasher) {
        for index in words.indices { hasher.combine(words[index]) }
    }
}

extension AdPlan: CustomStringConvertible {
    public var description: String { "AdPlan(\(positions))" }
}
