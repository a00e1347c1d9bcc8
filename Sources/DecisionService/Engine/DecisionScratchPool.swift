import AdLoadCore
import Policies
import Synchronization

/// A small stack of policy workspaces shared by concurrent decisions.
///
/// A decision takes one (or makes one when the stack is empty) and puts it back, so in
/// steady state deciding allocates no working memory: one lock round trip each way
/// instead of ≈ 4 KB of fresh buffers. At most `limit` are kept. A workspace is used by
/// one decision at a time: it is out of the stack while in use.
final class DecisionScratchPool: Sendable {
    let stack = Mutex<[PolicyWorkspace]>([])
    let limit: Int
    let make: @Sendable () -> PolicyWorkspace

    init(limit: Int, make: @escaping @Sendable () -> PolicyWorkspace) {
        self.limit = limit
        self.make = make
    }

    func take() -> PolicyWorkspace {
        stack.withLock { $0.popLast() } ?? make()
    }

    func put(_ workspace: PolicyWorkspace) {
        stack.withLock { stack in
            if stack.count < limit { stack.append(workspace) }
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
