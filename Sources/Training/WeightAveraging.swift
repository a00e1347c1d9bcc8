import LinearAlgebra
import Networks

/// Which iterations of a policy-gradient run the returned policy averages: the policy network
/// after each iteration from `from` on, with equal weights (Polyak–Ruppert averaging of the
/// iterates; stochastic weight averaging, Izmailov et al., 2018). The observation
/// normalization is fixed before the first iteration, so every averaged network reads the
/// same inputs.
///
/// Why: at the learning rate that trains fastest, the policy after one iteration and the
/// next differ by up to 2% in value (docs/policy-gradient.md, "Averaging the second
/// half"); their average is about as good as the best of them.
package struct WeightAveraging: Sendable, Equatable {
    /// The first iteration whose policy network enters the average (at least 1).
    package var from: Int

    package init(from: Int) {
        self.from = max(1, from)
    }
}

/// The running mean of networks of one shape: after n additions each parameter is the mean
/// of the n networks' (updated as mean += (x − mean) / n, the same numbers for the same
/// sequence of networks).
package struct NetworkAverage: Sendable, Equatable {
    package private(set) var network: MLP
    package private(set) var count: Int

    /// The average of the one network `first`.
    package init(first: MLP) {
        network = first
        count = 1
    }

    /// An average read back from a checkpoint: `network` is the mean of `count` networks.
    package init(network: MLP, count: Int) {
        self.network = network
        self.count = max(1, count)
    }

    /// Adds `next` (of the same shape) to the average.
    package mutating func add(_ next: MLP) {
        precondition(next.sizes == network.sizes, "NetworkAverage: networks of different shapes")
        count += 1
        let weight = 1 / Double(count)
        network = MLP(layers: zip(network.layers, next.layers).map { mean, layer in
            MLP.Layer(
                weights: Matrix(
                    rows: mean.weights.rows, columns: mean.weights.columns,
                    elements: zip(mean.weights.elements, layer.weights.elements).map { $0 + ($1 - $0) * weight }),
                bias: Vector(zip(mean.bias.elements, layer.bias.elements).map { $0 + ($1 - $0) * weight }))
        })
    }
}

/// An earlier point at which a run also keeps the policy it would have written had it been
/// asked for `iteration` iterations: with `averaging`, the average of the policy networks
/// after iterations `averaging.from`…`iteration`, otherwise the network after `iteration`.
///
/// Why: nothing in a run but its averaging depends on its iteration count, so its first
/// `iteration` iterations are those of the shorter run, and a run of 400 iterations offers
/// both the 200-iteration file and its own to choose from on held-out users
/// (docs/policy-gradient.md, "Stops chosen on held-out users").
package struct EarlierStop: Sendable, Equatable {
    /// The last iteration of the shorter run (at least 1).
    package var iteration: Int
    /// What the shorter run averages (`nil`: its last iteration's network).
    package var averaging: WeightAveraging?

    /// A stop after `iteration` (at least 1) that keeps what a run of that many iterations with `averaging` writes.
    package init(iteration: Int, averaging: WeightAveraging?) {
        self.iteration = max(1, iteration)
        self.averaging = averaging
    }

    /// The stop in a run's ``PolicyGradientRun/identity``: `ITERATION/FROM` (FROM 0 without averaging).
    var identity: String { "\(iteration)/\(averaging?.from ?? 0)" }

    /// Takes the policy network after `iteration` into `kept` when this stop keeps it.
    func keep(_ network: MLP, after iteration: Int, in kept: inout NetworkAverage?) {
        if let averaging {
            guard iteration >= averaging.from, iteration <= self.iteration else { return }
            if kept == nil { kept = NetworkAverage(first: network) } else { kept?.add(network) }
        } else if iteration == self.iteration {
            kept = NetworkAverage(first: network)
        }
    }
}
