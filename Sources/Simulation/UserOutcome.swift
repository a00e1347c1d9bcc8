/// Everything one simulated user did over the horizon, summed over sessions.
public struct UserOutcome: Sendable, Equatable {
    /// Discounted objective Σ e^(−r t)(revenue + w_e · items).
    package var objective = 0.0
    /// Ad revenue from the impressions shown and the clicks that happened.
    package var revenue = 0.0
    /// The same with each click replaced by its probability, which depends on latent traits
    /// and state: for evaluation only (same mean, lower variance), never for learning.
    package var expectedRevenue = 0.0
    public var sessions = 0
    /// Organic items watched.
    public var items = 0
    public var ads = 0
    package var clicks = 0
    package var negatives = 0
    /// Organic dwell, seconds.
    package var dwell = 0.0
    /// Days with a session that had a next day inside the horizon.
    var activeDaysWithNextDay = 0
    /// Of those, days followed by a session on the next day.
    var nextDayReturns = 0
    /// Whether the user had not churned by the end of the horizon.
    var survived = true

    package init() {}
}
