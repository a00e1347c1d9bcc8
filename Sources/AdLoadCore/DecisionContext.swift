/// What a policy knows when it decides a session's ad plan: the request (region, device,
/// hour, feed length), the user's tenure and behavioural history, and the region's rules.
///
/// The simulator and the decision service both build this, so one feature encoder serves
/// training, evaluation and serving. Category fields are indices into the names of the
/// ``FeatureSchema``.
public struct DecisionContext: Sendable {
    public var region: Int
    package var device: Int
    package var tenure: Int
    /// Hour of day at session start, 0...23.
    package var hour: Int
    /// Now, in days (the clock of ``history``).
    public var time: Double
    /// Ads the user has already seen today.
    public var adsToday: Int
    /// Feed positions this session can hold.
    public var feedLength: Int
    public var rules: PlacementRules
    package var history: BehaviourHistory
    /// The pacing prices in force for the user's region (``PacingController``): a priced
    /// policy weighs revenue, impressions, negative reactions and organic items by them;
    /// other policies ignore them. The defaults are the policy's own objective.
    package var prices = PacingPrices.defaults

    package init(region: Int, device: Int, tenure: Int, hour: Int, time: Double, adsToday: Int,
                feedLength: Int, rules: PlacementRules, history: BehaviourHistory) {
        self.region = region
        self.device = device
        self.tenure = tenure
        self.hour = hour
        self.time = time
        self.adsToday = adsToday
        self.feedLength = feedLength
        self.rules = rules
        self.history = history
    }
}
