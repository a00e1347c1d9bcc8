import AdLoadCore
import Policies
import Simulation

/// A trained policy against its teacher on users the run never trained on: both greedy, on
/// the same held-out users and luck, judged by the realized objective (the clicks that
/// happened, never their probabilities, plus the run's engagement weight per item). It is
/// how `train pg` tells its user that a run ended below the bandit it started from, which
/// another training seed can do (docs/policy-gradient.md, "Averaging the second half").
package struct HeldOutCheck: Sendable {
    package let model: EnvironmentModel
    package let setup: SimulationSetup
    package let threads: Int

    /// Which held-out population: the final check's, or the one restarts are chosen on (so
    /// that the check that reports on the chosen run is not the one it was chosen on).
    package enum Population: UInt64, Sendable {
        case check = 0x68656C64 // "held"
        case selection = 0x73656C65 // "sele"
    }

    /// Held-out users for a run trained on `training` with `seed`: the same days, `users`
    /// users (default the training's number), a population and luck no training user and
    /// no small `--seed` shares, one per ``Population``.
    package init(
        config: EnvironmentConfig, engagementWeight: Double, training: SimulationSetup, seed: UInt64, threads: Int,
        population: Population = .check, users: Int? = nil
    ) {
        model = EnvironmentModel(config: config.realizedObjective(engagementWeight: engagementWeight))
        let heldOutSeed = CounterRandom(seed: seed, domain: population.rawValue).bits(0) | (UInt64(1) << 63)
        setup = SimulationSetup(users: users ?? training.users, days: training.days, seed: heldOutSeed)
        self.threads = threads
    }

    /// The index of the policy with the highest mean objective on these users (the first
    /// among equals) and every policy's mean, in order.
    package func best(of policies: [any DecisionPolicy], catalog: PlanCatalog) throws -> (index: Int, means: [Double]) {
        let means = try policies.map { policy in
            let objectives = try objectives(policy, catalog: catalog)
            return objectives.reduce(0, +) / Double(max(1, objectives.count))
        }
        let index = means.indices.max { means[$0] < means[$1] } ?? 0 // max(by:) keeps the first of equals
        return (index, means)
    }

    /// Each user's realized objective under `policy`, greedy, in user order.
    package func objectives(_ policy: any DecisionPolicy, catalog: PlanCatalog) throws -> [Double] {
        let simulated = SimulatedPolicy(
            name: "held-out", version: "", policy: policy.conservative(), catalog: catalog, decisionSeed: setup.luckSeed)
        return try SimulationRunner(model: model, threads: threads).outcomes(simulated, setup: setup).map(\.objective)
    }

    /// `candidate`'s mean objective over `reference`'s, with a paired 95% interval (`nil` when
    /// the reference earns nothing).
    package func compare(_ candidate: any DecisionPolicy, with reference: any DecisionPolicy, catalog: PlanCatalog) throws -> PairedRatio? {
        PairedRatio(reference: try objectives(reference, catalog: catalog), candidate: try objectives(candidate, catalog: catalog))
    }
}
