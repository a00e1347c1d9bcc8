/// How many bootstrap replicates to draw, and from which seed.
///
/// Replicate b draws its n indices from `CounterRandom(seed: seed, domain: …).child(b)`
/// at counters 0..<n, so results are a pure function of the log and this configuration,
/// whatever order or thread computes them.
package struct BootstrapConfiguration: Sendable, Hashable {
    /// The default number of replicates, 500.
    package static let defaultReplicates = 500

    /// The number of bootstrap replicates B, at least 2.
    package var replicates: Int

    /// The seed of the resampling draws.
    package var seed: UInt64

    /// Creates a configuration.
    /// - Parameters:
    ///   - replicates: B, at least 2 (checked when an estimate is computed).
    ///   - seed: The seed of the resampling draws.
    package init(replicates: Int = BootstrapConfiguration.defaultReplicates, seed: UInt64 = 0) {
        self.replicates = replicates
        self.seed = seed
    }

    func validate() throws(OffPolicyError) {
        guard replicates >= 2 else { throw .invalidReplicateCount(replicates) }
    }
}
