#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The feature map φ(context, plan) = c ⊗ q shared by training, evaluation and serving.
///
/// c holds the context features (request, tenure, behavioural history) and q the plan
/// descriptors (``PlanDescriptors``); both start with a constant 1, so the Kronecker
/// product contains the context terms, the plan terms and every context × plan
/// interaction a linear model needs to personalize ad load. Element `i * q.count + j` of φ
/// is `c[i] * q[j]`. The structure lets a learner score all candidate plans of a context
/// in O(d² + K·q²) instead of O(K·d²).
public struct FeatureSchema: Sendable, Equatable {
    /// Version of the encoding; a policy file trained under another version is rejected.
    ///
    /// Version 2 added ``HistoryFeature/adAversion`` and made the standard history features
    /// those of ``HistoryFeature/standard``. A policy chooses its own list (``history``), which
    /// its file records in the context names; builds from before that choice existed read
    /// only the standard list.
    package static let version = 2

    /// Region names, in the index order of ``DecisionContext/region``.
    public let regions: [String]
    public let devices: [String]
    package let tenures: [String]
    /// The behavioural-history features c ends with, in order.
    package let history: [HistoryFeature]

    public init(regions: [String], devices: [String], tenures: [String], history: [HistoryFeature] = HistoryFeature.standard) {
        self.regions = regions
        self.devices = devices
        self.tenures = tenures
        self.history = history
    }

    /// The same categories with another list of history features.
    public func with(history: [HistoryFeature]) -> FeatureSchema {
        FeatureSchema(regions: regions, devices: devices, tenures: tenures, history: history)
    }

    /// Names of the context features before the history features: the bias, the categories
    /// one-hot without their first value (the bias absorbs it), and the hour on the circle.
    package var categoricalNames: [String] {
        ["bias"] + regions.dropFirst().map { "region=\($0)" } + devices.dropFirst().map { "device=\($0)" }
            + tenures.dropFirst().map { "tenure=\($0)" } + ["hour_sin", "hour_cos"]
    }

    /// Names of the context features c, in order.
    package var contextNames: [String] { categoricalNames + history.map(\.rawValue) }

    /// Identifies the layout of c: FNV-1a 64 of the context names, as `fnv1a64:` and 16 hex
    /// digits. Decision logs carry it so that a log is never read with another layout.
    package var contextFingerprint: String { FNV1a64.tagged(contextNames.joined(separator: ",")) }

    /// Names of the plan descriptors q.
    package var descriptorNames: [String] { PlanDescriptors.names }

    public var contextCount: Int { 1 + (regions.count - 1) + (devices.count - 1) + (tenures.count - 1) + 2 + history.count }
    public var descriptorCount: Int { PlanDescriptors.count }
    /// d = |c| · |q|.
    package var dimension: Int { contextCount * descriptorCount }

    /// Writes c for `context` into `buffer` (length ``contextCount``). Never allocates.
    package func encodeContext(_ context: DecisionContext, into buffer: UnsafeMutableBufferPointer<Double>) {
        precondition(buffer.count == contextCount, "context buffer has \(buffer.count) slots, schema needs \(contextCount)")
        var index = 0
        func put(_ value: Double) {
            buffer[index] = value
            index += 1
        }
        put(1)
        for region in 1..<max(1, regions.count) { put(context.region == region ? 1 : 0) }
        for device in 1..<max(1, devices.count) { put(context.device == device ? 1 : 0) }
        for tenure in 1..<max(1, tenures.count) { put(context.tenure == tenure ? 1 : 0) }
        let angle = Double(context.hour) / 24 * 2 * Double.pi
        put(sin(angle))
        put(cos(angle))
        let user = context.history
        if let since = user.daysSinceLastVisit(at: context.time) {
            for feature in history { put(feature.value(user, daysSinceVisit: since)) }
        } else {
            for feature in history { put(feature == .newUser ? 1 : 0) }
        }
    }

    /// c for `context` as an array (allocates; for tests and logs).
    func contextFeatures(_ context: DecisionContext) -> [Double] {
        var result = [Double](repeating: 0, count: contextCount)
        result.withUnsafeMutableBufferPointer { encodeContext(context, into: $0) }
        return result
    }

    /// The full φ = c ⊗ q (allocates; for tests, logs and the direct-method model).
    package static func kronecker(context: [Double], descriptors: PlanDescriptors) -> [Double] {
        var result: [Double] = []
        result.reserveCapacity(context.count * PlanDescriptors.count)
        for c in context {
            for j in 0..<PlanDescriptors.count { result.append(c * descriptors[j]) }
        }
        return result
    }
}

/// A schema's context layout with its fingerprints computed once, for checking many records.
package struct ContextLayout: Sendable {
    package let schema: FeatureSchema
    /// `schema.contextFingerprint`.
    package let fingerprint: String
    /// The fingerprint of the same categories with the standard history features: the layout
    /// of records written before records named theirs.
    package let standardFingerprint: String

    package init(_ schema: FeatureSchema) {
        self.schema = schema
        fingerprint = schema.contextFingerprint
        standardFingerprint = schema.with(history: HistoryFeature.standard).contextFingerprint
    }
}
