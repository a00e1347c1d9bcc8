import AdLoadCore

/// The nonparametric bootstrap behind every `Estimate`: resample decisions with replacement.
enum Bootstrap {
    /// The `CounterRandom` domain of the resampling draws ("bootstrp").
    static let domain: UInt64 = 0x626F_6F74_7374_7270

    /// Replicate values for each estimator's terms, all evaluated on the same resamples.
    ///
    /// Returns one array of `configuration.replicates` values per element of `terms`.
    /// - Complexity: O(B·n·(1 + k)) time for k estimators, O(n) extra memory.
    static func replicates(of terms: [RatioTerms], count n: Int, configuration: BootstrapConfiguration) -> [[Double]] {
        let root = CounterRandom(seed: configuration.seed, domain: domain)
        var values = [[Double]](repeating: [], count: terms.count)
        for index in values.indices {
            values[index].reserveCapacity(configuration.replicates)
        }
        var counts = [Int32](repeating: 0, count: n)
        for replicate in 0..<configuration.replicates {
            let random = root.child(UInt64(replicate))
            for i in 0..<n {
                counts[i] = 0
            }
            for draw in 0..<n {
                counts[index(random.bits(UInt64(draw)), below: n)] += 1
            }
            for (estimator, estimatorTerms) in terms.enumerated() {
                values[estimator].append(estimatorTerms.value(counts: counts))
            }
        }
        return values
    }

    /// Maps 64 random bits to 0..<n by multiply-high (bias below n / 2⁶⁴).
    static func index(_ bits: UInt64, below n: Int) -> Int {
        Int(UInt64(n).multipliedFullWidth(by: bits).high)
    }

    /// The sample standard deviation (divisor B − 1) of the replicates.
    static func standardDeviation(_ values: [Double]) -> Double {
        guard values.count > 1 else { return 0 }
        let mean = values.reduce(0, +) / Double(values.count)
        let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return (squares / Double(values.count - 1)).squareRoot()
    }

    /// The q-quantile of sorted values, interpolating linearly between order statistics
    /// (Hyndman and Fan type 7, the default of R and NumPy).
    /// - Precondition: `sorted` is non-empty and ascending; 0 ≤ q ≤ 1.
    static func quantile(sorted: [Double], _ q: Double) -> Double {
        let position = q * Double(sorted.count - 1)
        let below = Int(position.rounded(.down))
        let above = min(below + 1, sorted.count - 1)
        let fraction = position - Double(below)
        return sorted[below] + fraction * (sorted[above] - sorted[below])
    }
}

extension Estimate {
    /// Summarizes an estimator's full-log terms and bootstrap replicates.
    init(name: String, terms: RatioTerms, replicates: [Double], effectiveSampleSize: Double) {
        let sorted = replicates.sorted()
        self.init(
            name: name,
            value: terms.value,
            standardError: Bootstrap.standardDeviation(replicates),
            lower95: Bootstrap.quantile(sorted: sorted, 0.025),
            upper95: Bootstrap.quantile(sorted: sorted, 0.975),
            effectiveSampleSize: effectiveSampleSize,
            n: terms.numerators.count
        )
    }
}
