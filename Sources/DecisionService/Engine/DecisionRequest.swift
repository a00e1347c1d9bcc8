import AdLoadCore
import Policies
import StateStore

/// A decide request as the feed server sends it, already checked for shape and ranges
/// (the HTTP layer does that); names are checked against the policy's schema by
/// ``DecisionEngine/resolve(_:)``.
public struct DecisionRequest: Sendable, Equatable {
    /// 1–128 characters.
    public var userID: String
    /// 1–128 characters.
    public var sessionID: String
    /// One of the policy schema's regions.
    public var region: String
    /// One of the policy schema's devices.
    public var device: String
    /// Hour of day at session start, 0...23.
    public var hour: Int
    /// Feed positions the session can hold, 1...512.
    public var feedLength: Int
    /// The user's tenure if the feed server knows it, else derived from the stored record.
    public var tenure: String?
    /// Ad formats the client can show in this session, as the feed server names them; `nil`
    /// when it does not say. Plans place ad slots whatever their format, so only an empty
    /// list changes the decision: no format, no ads (the plan with no ads, ad limit 0).
    public var adFormats: [String]?
    /// Decision time, Unix seconds (for replay and tests); `nil` means now.
    public var timestamp: Double?

    /// Creates a request.
    public init(
        userID: String, sessionID: String, region: String, device: String, hour: Int, feedLength: Int,
        tenure: String? = nil, adFormats: [String]? = nil, timestamp: Double? = nil
    ) {
        self.userID = userID
        self.sessionID = sessionID
        self.region = region
        self.device = device
        self.hour = hour
        self.feedLength = feedLength
        self.tenure = tenure
        self.adFormats = adFormats
        self.timestamp = timestamp
    }
}

/// A ``DecisionRequest`` whose names an engine has looked up in its schema.
///
/// Only meaningful for the engine that resolved it (and for engines with the same schema).
public struct ResolvedDecisionRequest: Sendable {
    /// The request.
    public let request: DecisionRequest
    /// Index into the schema's regions.
    public let region: Int
    /// Index into the schema's devices.
    public let device: Int
    /// Index into the schema's tenures, when the request named one.
    public let tenure: Int?
}

/// The outcome of one decision: the plan to show and what is logged about it.
public struct Decision: Sendable {
    /// The plan family member chosen.
    public let plan: PlanSpec
    /// How ``DecisionEntry/probability`` was obtained.
    public let propensityKind: PropensityKind
    /// The record appended to the decision stream; it holds the id, the ad positions,
    /// the probability, the policy version and the fallback flag.
    public let entry: DecisionEntry

    /// The decision id.
    public var decisionID: String { entry.decisionID }
    /// 1-based feed positions that get an ad, increasing.
    public var adPositions: [Int] { entry.adPositions }
    /// The probability with which the plan was chosen.
    public var probability: Double { entry.probability }
    /// The version of the policy that decided.
    public var policyVersion: String { entry.policyVersion }
    /// Whether the decision came from the fallback (no user state).
    public var fallback: Bool { entry.fallback }
    /// "exact" or "estimated:N", as logged and answered.
    public var propensity: String { entry.propensity }
}
