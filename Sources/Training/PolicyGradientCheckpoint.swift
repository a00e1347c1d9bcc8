import AdLoadCore
import Foundation
import LinearAlgebra
import Networks
import PolicyGradient

/// Everything a policy-gradient run needs to go on exactly where it stopped: the iteration
/// reached, both networks, both optimizers' moments and steps, the observation
/// normalization, the learning curve so far, and the settings that fix the run's numbers
/// (``identity``), which a resumed run must repeat.
///
/// The file is binary so that every parameter comes back bit for bit (a resumed run gives
/// the same policy as an uninterrupted one): the magic `ADLOADPG`, a JSON header (settings,
/// iteration, layer sizes, curve), the parameters as little-endian doubles, and an FNV-1a
/// checksum of all that precedes it.
package struct PolicyGradientCheckpoint: Sendable {
    /// Settings that fix the run's numbers, as (name, value) in a fixed order.
    package var identity: [(name: String, value: String)]
    /// The last iteration completed.
    package var iteration: Int
    package var model: ActorCritic
    package var mean: [Double]
    package var standardDeviation: [Double]
    package var policyOptimizer: Adam
    package var valueOptimizer: Adam
    package var curve: [PolicyGradientIteration]
    /// The average of the policy networks so far (``WeightAveraging``), if any.
    package var average: NetworkAverage?
    /// What each of the run's earlier stops has kept so far (``EarlierStop``), in order.
    package var earlierAverages: [NetworkAverage?] = []

    static let magic = Array("ADLOADPG".utf8)
    static let version = 1

    package init(
        identity: [(name: String, value: String)], iteration: Int, trainer: PolicyGradientTrainer, curve: [PolicyGradientIteration]
    ) {
        self.identity = identity
        self.iteration = iteration
        model = trainer.model
        mean = trainer.mean
        standardDeviation = trainer.standardDeviation
        policyOptimizer = trainer.policyOptimizer
        valueOptimizer = trainer.valueOptimizer
        self.curve = curve
    }

    // MARK: Writing

    /// The file's bytes.
    package func encoded() -> [UInt8] {
        var header = "{\"version\": \(Self.version), \"iteration\": \(iteration), \"identity\": {"
        header += identity.map { "\(JSONValue.quoted($0.name)): \(JSONValue.quoted($0.value))" }.joined(separator: ", ")
        header += "}, \"policy_sizes\": [\(model.policy.sizes.map(String.init).joined(separator: ", "))]"
        header += ", \"value_sizes\": [\(model.value.sizes.map(String.init).joined(separator: ", "))]"
        header += ", \"adam_steps\": [\(policyOptimizer.step), \(valueOptimizer.step)]"
        header += ", \"observations\": \(mean.count), \"curve\": ["
        header += curve.map { point in
            "[" + [Double(point.iteration), Double(point.iterations), Double(point.steps), point.meanReturn,
                   point.statistics.policyLoss, point.statistics.valueLoss, point.statistics.entropy,
                   point.statistics.approximateKL, point.statistics.clipFraction, point.stepsPerSecond, point.elapsedSeconds]
                .map(JSONNumber.json).joined(separator: ", ") + "]"
        }.joined(separator: ", ")
        header += "], \"averaged\": \(average?.count ?? 0)"
        if !earlierAverages.isEmpty { header += ", \"earlier_averaged\": [\(earlierAverages.map { String($0?.count ?? 0) }.joined(separator: ", "))]" }
        header += "}"
        var bytes = Self.magic
        let headerBytes = Array(header.utf8)
        Self.append(UInt64(headerBytes.count), to: &bytes)
        bytes += headerBytes
        let parameters = payload()
        Self.append(UInt64(parameters.count), to: &bytes)
        for value in parameters { Self.append(value.bitPattern, to: &bytes) }
        Self.append(FNV1a64.hash(bytes), to: &bytes)
        return bytes
    }

    /// Writes the checkpoint to `path` atomically (a crash mid-write leaves the previous one).
    package func write(to path: String) throws {
        try Data(encoded()).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Every parameter in file order: policy network, value network, policy optimizer's
    /// first and second moments, the value optimizer's, then mean and standard deviation;
    /// then, when iterations are being averaged, their average policy network; then what each
    /// earlier stop has kept, in order.
    func payload() -> [Double] {
        var values: [Double] = []
        func add(_ layers: [MLP.Layer]) {
            for layer in layers {
                values += layer.weights.elements
                values += layer.bias.elements
            }
        }
        add(model.policy.layers)
        add(model.value.layers)
        add(policyOptimizer.moments.first.layers)
        add(policyOptimizer.moments.second.layers)
        add(valueOptimizer.moments.first.layers)
        add(valueOptimizer.moments.second.layers)
        values += mean + standardDeviation
        if let average { add(average.network.layers) }
        for case let kept? in earlierAverages { add(kept.network.layers) }
        return values
    }

    static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    // MARK: Reading

    /// Reads the checkpoint at `path` into a trainer made with `configuration` for
    /// `observationCount` observations and `actionCount` actions.
    /// - Throws: ``PolicyGradientCheckpointError`` naming the file and what is wrong.
    package static func load(
        path: String, configuration: PolicyGradientConfiguration, observationCount: Int, actionCount: Int
    ) throws(PolicyGradientCheckpointError) -> PolicyGradientCheckpoint {
        func fail(_ problem: String) -> PolicyGradientCheckpointError { PolicyGradientCheckpointError(file: path, problem: problem) }
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot be read") }
        let bytes = [UInt8](data)
        var reader = ByteReader(bytes: bytes)
        guard bytes.count > magic.count + 24, Array(bytes[0..<magic.count]) == magic else {
            throw fail("is not a policy-gradient checkpoint (written by adload train pg)")
        }
        reader.offset = magic.count
        var checksumReader = ByteReader(bytes: bytes, offset: bytes.count - 8)
        guard FNV1a64.hash(bytes[0..<(bytes.count - 8)]) == checksumReader.uint64() else {
            throw fail("checksum mismatch: the file is damaged or was edited")
        }
        let headerCount = Int(reader.uint64())
        guard headerCount <= bytes.count - reader.offset else { throw fail("header length \(headerCount) runs past the end") }
        let headerData = Data(bytes[reader.offset..<(reader.offset + headerCount)])
        reader.offset += headerCount
        guard case let .object(header)? = try? JSONValue.parse(headerData, file: path) else { throw fail("header is not a JSON object") }
        func integers(_ key: String) throws(PolicyGradientCheckpointError) -> [Int] {
            guard case let .array(items)? = header[key] else { throw fail("header has no \(key)") }
            return try items.map { item throws(PolicyGradientCheckpointError) in
                guard case let .number(number) = item, let value = Int(exactly: number) else { throw fail("\(key) holds a non-integer") }
                return value
            }
        }
        func integer(_ key: String) throws(PolicyGradientCheckpointError) -> Int {
            guard case let .number(number)? = header[key], let value = Int(exactly: number) else { throw fail("header has no integer \(key)") }
            return value
        }
        guard try integer("version") == version else { throw fail("version \(try integer("version")), this build reads \(version)") }
        guard case let .object(identityFields)? = header["identity"] else { throw fail("header has no identity") }
        let identity = identityFields.map { field -> (name: String, value: String) in
            if case let .string(text) = field.value { return (field.key, text) }
            return (field.key, "")
        }
        let policySizes = try integers("policy_sizes"), valueSizes = try integers("value_sizes"), steps = try integers("adam_steps")
        let observations = try integer("observations")
        var trainer = PolicyGradientTrainer(
            observationCount: observationCount, actionCount: actionCount, configuration: configuration, seed: 0)
        guard policySizes == trainer.model.policy.sizes, valueSizes == trainer.model.value.sizes, observations == observationCount,
              steps.count == 2 else {
            throw fail("networks of sizes \(policySizes) and \(valueSizes) do not fit this run's \(trainer.model.policy.sizes) and \(trainer.model.value.sizes)")
        }
        let count = Int(reader.uint64())
        guard count >= 0, count * 8 == bytes.count - 8 - reader.offset else { throw fail("parameter block has the wrong length") }
        var values = (0..<count).map { _ in Double(bitPattern: reader.uint64()) }[...]
        func layers(like network: MLP) throws(PolicyGradientCheckpointError) -> [MLP.Layer] {
            var result: [MLP.Layer] = []
            for layer in network.layers {
                let weightCount = layer.weights.elements.count, biasCount = layer.bias.count
                guard values.count >= weightCount + biasCount else { throw fail("parameter block is too short") }
                let weights = Matrix(rows: layer.outputs, columns: layer.inputs, elements: Array(values.prefix(weightCount)))
                values = values.dropFirst(weightCount)
                let bias = Vector(Array(values.prefix(biasCount)))
                values = values.dropFirst(biasCount)
                result.append(MLP.Layer(weights: weights, bias: bias))
            }
            return result
        }
        var model = trainer.model
        model.policy = MLP(layers: try layers(like: trainer.model.policy))
        model.value = MLP(layers: try layers(like: trainer.model.value))
        var policyOptimizer = trainer.policyOptimizer, valueOptimizer = trainer.valueOptimizer
        var moments = MLP.Gradients(zeroFor: model.policy)
        moments.layers = try layers(like: model.policy)
        var second = moments
        second.layers = try layers(like: model.policy)
        policyOptimizer.restore(step: steps[0], first: moments, second: second)
        moments = MLP.Gradients(zeroFor: model.value)
        moments.layers = try layers(like: model.value)
        second = moments
        second.layers = try layers(like: model.value)
        valueOptimizer.restore(step: steps[1], first: moments, second: second)
        guard values.count >= 2 * observationCount else { throw fail("parameter block is too short") }
        let mean = Array(values.prefix(observationCount))
        values = values.dropFirst(observationCount)
        let deviation = Array(values.prefix(observationCount))
        values = values.dropFirst(observationCount)
        // Checkpoints written before averaging existed have no "averaged" key: nothing averaged.
        var averaged = 0
        if header["averaged"] != nil { averaged = try integer("averaged") }
        let average = averaged > 0 ? NetworkAverage(network: MLP(layers: try layers(like: model.policy)), count: averaged) : nil
        // Checkpoints of runs without earlier stops have no "earlier_averaged" key.
        var earlierAverages: [NetworkAverage?] = []
        if header["earlier_averaged"] != nil {
            for count in try integers("earlier_averaged") {
                guard count >= 0 else { throw fail("earlier_averaged holds a negative count") }
                earlierAverages.append(count > 0 ? NetworkAverage(network: MLP(layers: try layers(like: model.policy)), count: count) : nil)
            }
        }
        guard values.isEmpty else { throw fail("parameter block has the wrong length") }
        trainer.restore(model: model, mean: mean, standardDeviation: deviation, policyOptimizer: policyOptimizer, valueOptimizer: valueOptimizer)
        guard case let .array(points)? = header["curve"] else { throw fail("header has no curve") }
        var curve: [PolicyGradientIteration] = []
        for point in points {
            guard case let .array(items) = point, items.count == 11 else { throw fail("a curve point does not have 11 numbers") }
            let numbers = items.map { item -> Double in
                if case let .number(number) = item { return number }
                return .nan
            }
            var statistics = UpdateStatistics()
            (statistics.policyLoss, statistics.valueLoss, statistics.entropy) = (numbers[4], numbers[5], numbers[6])
            (statistics.approximateKL, statistics.clipFraction) = (numbers[7], numbers[8])
            curve.append(PolicyGradientIteration(
                iteration: Int(numbers[0]), iterations: Int(numbers[1]), steps: Int(numbers[2]), meanReturn: numbers[3],
                statistics: statistics, stepsPerSecond: numbers[9], elapsedSeconds: numbers[10]))
        }
        var checkpoint = PolicyGradientCheckpoint(identity: identity, iteration: try integer("iteration"), trainer: trainer, curve: curve)
        checkpoint.average = average
        checkpoint.earlierAverages = earlierAverages
        return checkpoint
    }

    /// Why this checkpoint cannot continue a run with `identity`, or `nil` if it can.
    package func mismatch(with identity: [(name: String, value: String)]) -> String? {
        let mine = Dictionary(self.identity.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        for (name, value) in identity where mine[name] != value {
            return "it was trained with \(name)=\(mine[name] ?? "(absent)"); this run has \(name)=\(value)"
        }
        // A setting only the checkpoint has changed its training too, unless it only says
        // which averages it kept (a run may write the last iteration's policy, or no earlier stops).
        let theirs = Set(identity.map(\.name))
        for (name, value) in self.identity where !theirs.contains(name) && !Self.keptPolicyOnly.contains(name) {
            return "it was trained with \(name)=\(value); this run has no \(name)"
        }
        return nil
    }

    /// Identity entries that say which policies a run keeps, not how it trains.
    static let keptPolicyOnly: Set<String> = ["average_from", "earlier_stops"]
}

/// A checkpoint that cannot be read.
package struct PolicyGradientCheckpointError: Error, Sendable, CustomStringConvertible {
    package let file: String
    package let problem: String
    package var description: String { "\(file): \(problem)" }
}

/// Little-endian reads from a byte array.
struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    mutating func uint64() -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<8 where offset + index < bytes.count {
            value |= UInt64(bytes[offset + index]) << UInt64(8 * index)
        }
        offset += 8
        return value
    }
}
