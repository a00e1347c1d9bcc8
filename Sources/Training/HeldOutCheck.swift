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

    /// Held-out users for a run trained on `training` with `seed`: the same number and days,
    /// a population and luck no training user and no small `--seed` shares.
    package init(config: EnvironmentConfig, engagementWeight: Double, training: SimulationSetup, seed: UInt64, threads: Int) {
        model = EnvironmentModel(config: config.realizedObjective(engagementWeight: engagementWeight))
        let heldOutSeed = CounterRandom(seed: seed, domain: 0x68656C64).bits(0) | (UInt64(1) << 63) // "held"
        setup = SimulationSetup(users: training.users, days: training.days, seed: heldOutSeed)
        self.threads = threads
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
