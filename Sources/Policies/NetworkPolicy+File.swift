import AdLoadCore
import Foundation
import LinearAlgebra
import Networks

extension NetworkPolicy {
    /// The top-level keys of a network policy file, checksum last.
    static let contentKeys = ["format", "version", "algorithm", "hyperparameters"] + PolicyHeader.keys
        + ["actions", "normalization", "network"]

    /// The file's text, checksum included; checked with the loader's own rules first, so a
    /// file this writes always loads.
    /// - Throws: `ConfigError` naming the offending field (the file is called "policy").
    package func rendered() throws(ConfigError) -> String {
        guard provenance.seed <= UInt64(ConfigReader.largestExactInteger) else {
            throw ConfigError(
                file: "policy", key: "provenance.seed", value: "\(provenance.seed)",
                problem: "out of range, expected an integer in [0, \(ConfigReader.largestExactInteger)]")
        }
        let content = document()
        _ = try Self.read(content.value, file: "policy", sealed: false, expectedSchema: nil)
        guard case var .object(fields) = content else { return "" }
        fields.append((key: "checksum", value: .string(PolicyFile.checksum(of: content.value))))
        return OrderedJSON.object(fields).rendered() + "\n"
    }

    /// Every field but the checksum, in file order.
    func document() -> OrderedJSON {
        var parameters: [Double] = []
        for layer in network.layers {
            parameters += layer.weights.elements
            parameters += layer.bias.elements
        }
        return .object([
            ("format", .string(PolicyFile.format)),
            ("version", .number(Double(Self.version))),
            ("algorithm", .string(algorithm)),
            ("hyperparameters", .object(settings.map { ($0.name, .number($0.value)) })),
        ] + header.fields + [
            ("actions", .object([
                ("first", .array(actions.map { .number(Double($0.first)) })),
                ("every", .array(actions.map { .number(Double($0.spacing)) })),
                ("max", .array(actions.map { .number(Double($0.maxAds)) })),
            ])),
        ] + pricingFields + [
            ("normalization", .object([
                ("mean", .array(mean.map { .number($0) })),
                ("std", .array(standardDeviation.map { .number($0) })),
            ])),
            ("network", .object([
                ("sizes", .array(network.sizes.map { .number(Double($0)) })),
                ("parameters", .matrix(parameters, columns: 8)),
            ])),
        ])
    }

    /// The `pricing` field of a priced policy (none otherwise): the scales and the ranges
    /// its prices were sampled from in training.
    var pricingFields: [(String, OrderedJSON)] {
        guard let pricing else { return [] }
        return [("pricing", .object([
            ("scales", .object(zip(NetworkPricing.scaleNames, pricing.scales).map { ($0, .number($1)) })),
            ("ranges", .object(zip(NetworkPricing.priceNames, pricing.ranges).map {
                ($0, .array([.number($1.lowerBound), .number($1.upperBound)]))
            })),
        ]))]
    }

    /// Reads a file's `pricing` (see ``pricingFields``).
    static func readPricing(_ top: ConfigReader) throws(ConfigError) -> NetworkPricing? {
        guard top.has("pricing") else { return nil }
        let reader = try top.object("pricing", keys: ["scales", "ranges"])
        let scaleReader = try reader.object("scales", keys: NetworkPricing.scaleNames)
        var scales: [Double] = []
        for name in NetworkPricing.scaleNames { scales.append(try scaleReader.number(name, in: 0...1e12)) }
        let rangeReader = try reader.object("ranges", keys: NetworkPricing.priceNames)
        var ranges: [ClosedRange<Double>] = []
        for name in NetworkPricing.priceNames {
            let bounds = try rangeReader.numbers(name, count: 2, in: 0...1e6)
            guard bounds[0] <= bounds[1] else {
                throw rangeReader.error(name, .array(bounds.map { .number($0) }), "expected [low, high] with low ≤ high")
            }
            ranges.append(bounds[0]...bounds[1])
        }
        return NetworkPricing(scales: scales, ranges: ranges)
    }

    /// Verifies a parsed network policy document: format and version, every key and value,
    /// the network's shape against the schema and the action list, the checksum, and the
    /// schema against `expectedSchema` (when given).
    /// - Throws: `ConfigError` naming the file, the field and the value.
    static func parse(document: JSONValue, file: String, expectedSchema: FeatureSchema?) throws(ConfigError) -> NetworkPolicy {
        try read(document, file: file, sealed: true, expectedSchema: expectedSchema)
    }

    static func read(_ document: JSONValue, file: String, sealed: Bool, expectedSchema: FeatureSchema?) throws(ConfigError) -> NetworkPolicy {
        try PolicyHeader.checkFormat(document, file: file, version: Self.version)
        let top = try ConfigReader(
            file: file, path: "", value: document, keys: contentKeys + (sealed ? ["checksum"] : []), optionalKeys: ["pricing"])
        let algorithm = try top.string("algorithm")
        guard algorithms.contains(algorithm) else {
            throw top.error("algorithm", .string(algorithm), "expected one of \(algorithms.joined(separator: ", "))")
        }
        let settings = try top.numberMap("hyperparameters").sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        let header = try PolicyHeader.read(top, file: file)
        let pricing = try readPricing(top)
        let contextCount = inputCount(schema: header.schema, pricing: pricing)

        let actionReader = try top.object("actions", keys: ["first", "every", "max"])
        let firsts = try actionReader.integers("first", in: 0...AdPlan.maxPosition)
        let spacings = try actionReader.integers("every", in: 0...AdPlan.maxPosition)
        let maxima = try actionReader.integers("max", in: 0...AdPlan.maxPosition)
        guard !firsts.isEmpty, firsts.count == spacings.count, firsts.count == maxima.count else {
            throw actionReader.error("first", nil, "first, every and max must be non-empty arrays of one length (\(firsts.count), \(spacings.count), \(maxima.count))")
        }
        let actions = firsts.indices.map { PlanSpec(first: firsts[$0], spacing: spacings[$0], maxAds: maxima[$0]) }

        let normalization = try top.object("normalization", keys: ["mean", "std"])
        let meaning = pricing == nil ? "one per context feature (\(contextCount))" : "one per context feature and price (\(contextCount))"
        let mean = try normalization.numbers("mean", count: contextCount, meaning: meaning)
        let std = try normalization.numbers("std", count: contextCount, meaning: meaning)
        if let index = std.firstIndex(where: { !($0 > 0) }) {
            throw ConfigError(file: file, key: "normalization.std[\(index)]", value: JSONNumber.compact(std[index]), problem: "must be positive")
        }

        let networkReader = try top.object("network", keys: ["sizes", "parameters"])
        let sizes = try networkReader.integers("sizes", in: 1...4096)
        guard sizes.count >= 2, sizes.first == contextCount, sizes.last == actions.count else {
            throw networkReader.error(
                "sizes", .array(sizes.map { .number(Double($0)) }),
                "expected at least two widths, the first the \(contextCount) inputs (context features\(pricing == nil ? "" : " and prices")), the last the \(actions.count) actions")
        }
        let count = (1..<sizes.count).reduce(0) { $0 + sizes[$1 - 1] * sizes[$1] + sizes[$1] }
        let parameters = try networkReader.numbers("parameters", count: count, meaning: "weights and biases of layers \(sizes)")
        var layers: [MLP.Layer] = []
        var offset = 0
        for index in 1..<sizes.count {
            let (inputs, outputs) = (sizes[index - 1], sizes[index])
            let weights = Matrix(rows: outputs, columns: inputs, elements: Array(parameters[offset..<(offset + inputs * outputs)]))
            offset += inputs * outputs
            let bias = Vector(Array(parameters[offset..<(offset + outputs)]))
            offset += outputs
            layers.append(MLP.Layer(weights: weights, bias: bias))
        }
        if sealed {
            try PolicyHeader.verifyChecksum(try PolicyHeader.readChecksum(top), of: document, file: file)
        }
        if let expectedSchema {
            try PolicyHeader.compare(header.schema, expected: expectedSchema, file: file)
        }
        return NetworkPolicy(
            algorithm: algorithm, settings: settings, header: header, actions: actions, mean: mean, standardDeviation: std,
            network: MLP(layers: layers), pricing: pricing)
    }
}
