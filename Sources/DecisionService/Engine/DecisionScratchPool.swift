import AdLoadCore
import Policies
import Synchronization

/// Working memory of one decision: the context vector and the bandit's scratch.
struct DecisionScratch: Sendable {
    var context: [Double]
    var bandit: BanditScratch
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

/// The valid plans for a (region, feed length, ad limit), built once by the plan catalog
/// and shared by every decision with the same key instead of rebuilt (cutting plans to the
/// feed and recomputing their descriptors) each time. Holds at most `limit` lists; keys
/// beyond that are built per decision.
final class CandidateListCache: Sendable {
    struct Key: Hashable, Sendable {
        let region: Int
        let feedLength: Int
        let adLimit: Int
    }

    let lists = Mutex<[Key: [CandidatePlan]]>([:])
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// The cached list for `key`, or the one `build` makes (cached if there is room).
    func list(for key: Key, build: () -> [CandidatePlan]) -> [CandidatePlan] {
        if let cached = lists.withLock({ $0[key] }) { return cached }
        let list = build()
        lists.withLock { lists in
            if lists.count < limit { lists[key] = list }
        }
        return list
    }
}
