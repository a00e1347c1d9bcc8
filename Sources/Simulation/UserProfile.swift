import AdLoadCore

/// One simulated user: observed attributes and latent traits, drawn once from the
/// population seed and the user index (so the same seed always yields the same people).
public struct UserProfile: Sendable, Equatable {
    /// Index of the user in the population (the user id in simulation).
    public let index: Int
    /// Index into ``EnvironmentConfig/regions``.
    public let region: Int
    /// Index into ``EnvironmentConfig/devices``.
    package let device: Int
    /// Index into ``EnvironmentConfig/tenures``.
    package let tenure: Int
    /// Observable segment index (region × device × tenure).
    package let segment: Int
    /// Latent ad tolerance, ln τ.
    let logTolerance: Double
    /// Latent click logit κ.
    let clickLogit: Double
    /// Latent base exit logit per item h.
    let exitLogit: Double
    /// Latent visit rate λ (sessions per day at neutral satisfaction).
    let visitRate: Double

    /// Draws user `index` of the population defined by `config` and `populationSeed`.
    public init(index: Int, config: EnvironmentConfig, populationSeed: UInt64) {
        let random = CounterRandom(seed: populationSeed, domain: RandomDomain.population).child(UInt64(index))
        func pick(_ shares: [Double], _ u: Double) -> Int {
            var cumulative = 0.0
            for (i, share) in shares.enumerated() {
                cumulative += share
                if u < cumulative { return i }
            }
            return shares.count - 1
        }
        self.index = index
        region = pick(config.regions.map(\.populationShare), random.uniform(0))
        device = pick(config.devices.map(\.populationShare), random.uniform(1))
        tenure = pick(config.tenures.map(\.populationShare), random.uniform(2))
        segment = (region * config.devices.count + device) * config.tenures.count + tenure
        let shift = config.regions[region].shifts + config.devices[device].shifts + config.tenures[tenure].shifts
        let latent = config.latent
        let z1 = random.normal(3), z2 = random.normal(4), z3 = random.normal(5), z4 = random.normal(6)
        let rho = latent.clickToleranceCorrelation
        logTolerance = shift.tolerance + latent.toleranceSD * z1
        clickLogit = log(latent.baseCTR / (1 - latent.baseCTR)) + shift.click
            + latent.clickSD * (rho * z1 + (1 - rho * rho).squareRoot() * z2)
        exitLogit = latent.baseExitLogit + shift.exit + latent.exitSD * z3
        visitRate = latent.visitRate * exp(shift.visit + latent.visitRateSD * z4)
    }
}

/// Domains that keep unrelated random streams of one seed apart.
enum RandomDomain {
    static let population: UInt64 = 0x706F_7075_6C61_7469 // "populati"
    static let luck: UInt64 = 0x6C75_636B_6C75_636B // "luckluck"
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
