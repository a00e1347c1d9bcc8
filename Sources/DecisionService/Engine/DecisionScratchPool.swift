import AdLoadCore
import Policies
import Synchronization

/// Working memory of one decision: the context vector, the bandit's scratch and the candidate list.
struct DecisionScratch: Sendable {
    var context: [Double]
    var bandit: BanditScratch
    var candidates: [CandidatePlan]
}

/// A small stack of ``DecisionScratch`` values shared by concurrent decisions.
///
/// A decision takes one (or makes one when the stack is empty) and puts it back, so in
/// steady state deciding allocates no working memory: one lock round trip each way
/// instead of ≈ 4 KB of fresh buffers. At most `limit` are kept.
final class DecisionScratchPool: Sendable {
    let stack = Mutex<[DecisionScratch]>([])
    let limit: Int
    let make: @Sendable () -> DecisionScratch

    init(limit: Int, make: @escaping @Sendable () -> DecisionScratch) {
        self.limit = limit
        self.make = make
    }

    func take() -> DecisionScratch {
        stack.withLock { $0.popLast() } ?? make()
    }

    func put(_ scratch: DecisionScratch) {
        stack.withLock { stack in
            if stack.count < limit { stack.append(scratch) }
        }
    }
}

/// The candidate lists of the decision stream (`[[first, every, max]]`), shared between
/// decisions with the same region, feed length and ad limit instead of rebuilt (K + 1
/// allocations) every time. Holds at most `limit` lists.
final class CandidateListCache: Sendable {
    struct Key: Hashable, Sendable {
        let region: Int
        let feedLength: Int
        let adLimit: Int
    }

    let lists = Mutex<[Key: [[Int]]]>([:])
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    func list(for key: Key, candidates: [CandidatePlan]) -> [[Int]] {
        if let cached = lists.withLock({ $0[key] }) { return cached }
        let list = candidates.map { [$0.spec.first, $0.spec.spacing, $0.spec.maxAds] }
        lists.withLock { lists in
            if lists.count < limit { lists[key] = list }
        }
        return list
    }
}
