import AdLoadCore
import Policies
import StateStore

/// A decide request as the feed server sends it, already checked for shape and ranges
/// (the HTTP layer does that); names are checked against the policy's schema by
/// ``DecisionEngine/resolve(_:)``.
package struct DecisionRequest: Sendable, Equatable {
    /// 1–128 characters.
    package var userID: String
    /// 1–128 characters.
    package var sessionID: String
    /// One of the policy schema's regions.
    package var region: String
    /// One of the policy schema's devices.
    package var device: String
    /// Hour of day at session start, 0...23.
    package var hour: Int
    /// Feed positions the session can hold, 1...512.
    package var feedLength: Int
    /// The user's tenure if the feed server knows it, else derived from the stored record.
    package var tenure: String?
    /// Ad formats the client can show in this session, as the feed server names them; `nil`
    /// when it does not say. Plans place ad slots whatever their format, so only an empty
    /// list changes the decision: no format, no ads (the plan with no ads, ad limit 0).
    var adFormats: [String]?
    /// Decision time, Unix seconds (for replay and tests); `nil` means now.
    package var timestamp: Double?

    /// Creates a request.
    package init(
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
package struct ResolvedDecisionRequest: Sendable {
    /// The request.
    package let request: DecisionRequest
    /// Index into the schema's regions.
    package let region: Int
    /// Index into the schema's devices.
    package let device: Int
    /// Index into the schema's tenures, when the request named one.
    package let tenure: Int?
}

/// The outcome of one decision: the plan to show and what is logged about it.
package struct Decision: Sendable {
    /// The plan family member chosen.
    package let plan: PlanSpec
    /// How ``DecisionEntry/probability`` was obtained.
    package let propensityKind: PropensityKind
    /// The record appended to the decision stream; it holds the id, the ad positions,
    /// the probability, the policy version and the fallback flag.
    package let entry: DecisionEntry

    /// The decision id.
    package var decisionID: String { entry.decisionID }
    /// 1-based feed positions that get an ad, increasing.
    package var adPositions: [Int] { entry.adPositions }
    /// The probability with which the plan was chosen.
    package var probability: Double { entry.probability }
    /// The version of the policy that decided.
    package var policyVersion: String { entry.policyVersion }
    /// Whether the decision came from the fallback (no user state).
    package var fallback: Bool { entry.fallback }
    /// "exact" or "estimated:N", as logged and answered.
    package var propensity: String { entry.propensity }
}
