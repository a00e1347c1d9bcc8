import AdLoadCore
@testable import LinearAlgebra
@testable import Policies

/// A sequential view of a `CounterRandom` stream, so every test input is reproducible from a seed.
struct TestRandom {
    private let random: CounterRandom
    private var counter: UInt64 = 0

    init(seed: UInt64) {
        random = CounterRandom(seed: seed, domain: 0x7E57)
    }

    mutating func uniform() -> Double {
        counter += 1
        return random.uniform(counter)
    }

    mutating func uniform(in range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * uniform()
    }

    mutating func normal() -> Double {
        counter += 1
        return random.normal(counter)
    }

    mutating func index(below count: Int) -> Int {
        min(count - 1, Int(uniform() * Double(count)))
    }

    /// A fresh decision stream, as a caller of `decide` would derive one per decision.
    mutating func stream() -> CounterRandom {
        counter += 1
        return random.child(counter)
    }
}

/// φ = c ⊗ q, element i·|q| + j = c[i]·q[j], built with the textbook double loop.
func kronecker(_ c: [Double], _ q: [Double]) -> [Double] {
    var phi: [Double] = []
    for ci in c {
        for qj in q {
            phi.append(ci * qj)
        }
    }
    return phi
}

/// Row k (|q| values) of a flat descriptor array.
func descriptorRow(_ descriptors: [Double], _ k: Int, count nq: Int) -> [Double] {
    Array(descriptors[(k * nq)..<((k + 1) * nq)])
}

/// xᵀy by a plain loop.
func dot(_ x: [Double], _ y: [Double]) -> Double {
    zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }
}

/// xᵀMx for a square matrix by plain loops.
func quadraticForm(_ m: Matrix, _ x: [Double]) -> Double {
    var sum = 0.0
    for i in 0..<x.count {
        for j in 0..<x.count {
            sum += x[i] * m[i, j] * x[j]
        }
    }
    return sum
}

/// The largest absolute elementwise difference; infinity if the lengths differ.
func maxAbsDifference<A: Collection<Double>, B: Collection<Double>>(_ a: A, _ b: B) -> Double {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// The largest absolute element.
func maxAbs<A: Collection<Double>>(_ a: A) -> Double {
    a.map(abs).max() ?? 0
}

/// A random context of `count` features: a bias 1, then a mix of one-hot zeros/ones and
/// standard normals, like the encoded contexts the service produces.
func randomContext(_ count: Int, using random: inout TestRandom) -> [Double] {
    var c = [1.0]
    for i in 1..<count {
        c.append(i % 3 == 1 ? (random.uniform() < 0.4 ? 1 : 0) : random.normal())
    }
    return c
}

/// K random descriptor rows (q₀ = 1, the rest uniform in [-1, 1]), flattened.
func randomDescriptors(candidates: Int, descriptorCount nq: Int, using random: inout TestRandom) -> [Double] {
    var result: [Double] = []
    for _ in 0..<candidates {
        result.append(1)
        for _ in 1..<nq {
            result.append(random.uniform(in: -1...1))
        }
    }
    return result
}

/// A bandit that has seen `updates` random observations with random weights (some zero).
func trainedBandit(
    contextCount nc: Int, descriptorCount nq: Int, algorithm: BanditAlgorithm, updates: Int, using random: inout TestRandom
) throws -> LinearBandit {
    var bandit = try LinearBandit(contextCount: nc, descriptorCount: nq, algorithm: algorithm, lambda: 1)
    for _ in 0..<updates {
        let c = randomContext(nc, using: &random)
        let q = randomDescriptors(candidates: 1, descriptorCount: nq, using: &random)
        let weight = random.uniform() < 0.1 ? 0 : random.uniform(in: 0.2...3)
        bandit.update(context: c, descriptors: q, reward: random.normal(), weight: weight)
    }
    return bandit
}

/// The 1 − α quantile of the chi-square distribution with `degrees` degrees of freedom,
/// by the Wilson–Hilferty cube approximation (relative error below 1% for df ≥ 3 at these levels).
func chiSquareCritical(degrees: Int, upperTailZ z: Double) -> Double {
    let k = Double(degrees)
    let term = 1 - 2 / (9 * k) + z * (2 / (9 * k)).squareRoot()
    return k * term * term * term
}

/// z for an upper tail of 0.001 (one-sided), the level of every goodness-of-fit test here.
let zForOneInAThousand = 3.090232

/// Pearson's chi-square statistic of observed counts against expected probabilities; cells
/// with expected count below 5 are pooled into one cell. Returns (statistic, degrees of freedom).
func chiSquare(observed: [Int], expected probabilities: [Double]) -> (statistic: Double, degrees: Int) {
    let total = Double(observed.reduce(0, +))
    var statistic = 0.0
    var cells = 0
    var pooledObserved = 0.0
    var pooledExpected = 0.0
    for (count, p) in zip(observed, probabilities) {
        let expected = p * total
        if expected < 5 {
            pooledObserved += Double(count)
            pooledExpected += expected
        } else {
            statistic += (Double(count) - expected) * (Double(count) - expected) / expected
            cells += 1
        }
    }
    if pooledExpected > 0 {
        statistic += (pooledObserved - pooledExpected) * (pooledObserved - pooledExpected) / pooledExpected
        cells += 1
    } else if pooledObserved > 0 {
        statistic = .infinity
    }
    return (statistic, max(1, cells - 1))
}
