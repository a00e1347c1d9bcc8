import AdLoadCore
import Dispatch
import Synchronization

/// Which users, over how long, with which luck: everything that fixes a simulation's
/// numbers apart from the policy.
package struct SimulationSetup: Sendable, Equatable {
    package var users: Int
    package var days: Int
    /// Seed of the user population (who the users are).
    package var populationSeed: UInt64
    /// Seed of the per-session luck (what happens to them).
    package var luckSeed: UInt64

    /// The usual setup: one seed for both population and luck.
    package init(users: Int, days: Int, seed: UInt64) {
        self.init(users: users, days: days, populationSeed: seed, luckSeed: seed)
    }

    package init(users: Int, days: Int, populationSeed: UInt64, luckSeed: UInt64) {
        self.users = users
        self.days = days
        self.populationSeed = populationSeed
        self.luckSeed = luckSeed
    }
}

/// Runs policies over many users in parallel. Users are independent and every random
/// draw is keyed by (seed, user, session, position), so results do not depend on the
/// thread count or on scheduling.
package struct SimulationRunner: Sendable {
    package let model: EnvironmentModel
    /// Worker threads (at least 1).
    package let threads: Int

    package init(model: EnvironmentModel, threads: Int) {
        self.model = model
        self.threads = max(1, threads)
    }

    /// Simulates every user of `setup` under `policy` and returns their outcomes in user order.
    /// - Parameter progress: called from worker threads with the number of users finished so far.
    package func outcomes<P: SessionPolicy>(
        _ policy: P, setup: SimulationSetup, progress: (@Sendable (Int) -> Void)? = nil
    ) throws(SimulationError) -> [UserOutcome] {
        let chunkSize = 16
        let chunkCount = (setup.users + chunkSize - 1) / chunkSize
        let nextChunk = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let results = Mutex<[UserOutcome]>(Array(repeating: UserOutcome(), count: setup.users))
        let failure = Mutex<SimulationError?>(nil)
        let model = self.model
        DispatchQueue.concurrentPerform(iterations: min(threads, max(1, chunkCount))) { _ in
            var worker = policy.makeWorker()
            var local: [UserOutcome] = []
            local.reserveCapacity(chunkSize)
            while true {
                let chunk = nextChunk.wrappingAdd(1, ordering: .relaxed).oldValue
                if chunk >= chunkCount || failure.withLock({ $0 != nil }) { return }
                let range = (chunk * chunkSize)..<min(setup.users, (chunk + 1) * chunkSize)
                local.removeAll(keepingCapacity: true)
                do throws(SimulationError) {
                    for index in range {
                        let user = model.user(index, populationSeed: setup.populationSeed)
                        local.append(try model.simulateUser(
                            user, worker: &worker, policyName: policy.name, luckSeed: setup.luckSeed, days: setup.days))
                    }
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                    return
                }
                results.withLock { all in
                    for (offset, outcome) in local.enumerated() { all[range.lowerBound + offset] = outcome }
                }
                let done = finished.add(range.count, ordering: .relaxed).newValue
                progress?(done)
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return results.withLock { $0 }
    }

    /// Simulates `policy` and summarizes it.
    package func run<P: SessionPolicy>(
        _ policy: P, setup: SimulationSetup, progress: (@Sendable (Int) -> Void)? = nil
    ) throws(SimulationError) -> SimulationReport {
        let clock = ContinuousClock()
        let start = clock.now
        let outcomes = try outcomes(policy, setup: setup, progress: progress)
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return SimulationReport(policy: policy.name, setup: setup, outcomes: outcomes, elapsedSeconds: seconds)
    }
}
