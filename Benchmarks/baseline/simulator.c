/*
 * A quick, straightforward, single-threaded C baseline of the environment model
 * (ENVMODEL.md; the equations as implemented in Sources/Simulation/EnvironmentModel.swift)
 * with the defaults of env/default.json hard-coded, under the policy "an ad after every
 * K = 12 organic items from the first allowed slot" and the same placement rules.
 *
 * It is a yardstick for the Swift simulator's speed, not a second implementation to keep
 * in sync: one sequential splitmix64 stream (not counter-based), Box-Muller normals,
 * libm exp/tanh/log/pow, no tables beyond the hour arrays, no history bookkeeping.
 * Its numbers are statistically comparable to the Swift run, not identical.
 *
 * Build: gcc -O2 -o simulator simulator.c -lm
 * Usage: simulator [users=2000] [days=120] [repeats=3] [every=12]
 *        (the best of `repeats` runs is reported, like `adload bench`)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* ---- env/default.json ------------------------------------------------------------- */

/* Regions, devices and tenures in the order the Swift loader uses (sorted by name). */
enum { REGIONS = 3, DEVICES = 2, TENURES = 3 };
struct segment {
    const char *name;
    double share, tolerance, click, exit, visit;
};
static const struct segment regions[REGIONS] = {
    {"apac", 0.35, 0.05, -0.05, -0.05, 0.05},
    {"eu", 0.30, -0.05, 0.0, 0.0, 0.0},
    {"na", 0.35, 0.0, 0.05, 0.0, 0.0},
};
static const double region_revenue_multiplier[REGIONS] = {0.5, 0.8, 1.0};
/* Regional share cap in basis points, checked as (ads + 1) * 10000 <= cap * position. */
static const int region_share_cap_bp[REGIONS] = {1000, 2000, 2500};
static const struct segment devices[DEVICES] = {
    {"android", 0.55, 0.05, -0.05, 0.0, 0.0},
    {"ios", 0.45, -0.05, 0.1, 0.0, 0.0},
};
static const struct segment tenures[TENURES] = {
    {"established", 0.45, 0.0, 0.0, 0.0, 0.0},
    {"new", 0.25, -0.15, 0.05, 0.1, -0.2},
    {"veteran", 0.30, 0.15, -0.05, -0.1, 0.2},
};

/* Placement rules (identical in the three regions apart from the share cap). */
#define FIRST_SLOT 2
#define MIN_GAP 2
#define MAX_ADS_PER_SESSION 40
#define MAX_ITEMS 400

/* latent */
#define TOLERANCE_SD 0.9
#define BASE_CTR 0.012
#define CLICK_SD 0.7
#define CLICK_TOLERANCE_CORRELATION 0.5
#define BASE_EXIT_LOGIT (-3.9)
#define EXIT_SD 0.3
#define VISIT_RATE 2.0
#define VISIT_RATE_SD 0.5

/* dynamics */
#define FATIGUE_DECAY 0.85
#define BLINDNESS_PER_AD 0.0006
#define EARLY_PENALTY 1.5
#define EARLY_POSITIONS 4
#define BACK_TO_BACK_PENALTY 1.0
#define BACK_TO_BACK_GAP 3
#define CLICK_BLINDNESS 1.0
#define CLICK_FATIGUE 0.15
#define REVENUE_PER_IMPRESSION 0.002
#define REVENUE_PER_CLICK 0.5
#define INVENTORY_DECAY 0.15
#define NEGATIVE_BASE (-5.0)
#define NEGATIVE_FATIGUE 0.5
#define NEGATIVE_SATISFACTION_DROP 0.05
#define NEGATIVE_EXIT_BOOST 1.0
#define SATISFACTION_RATE 0.0015
#define AD_UTILITY (-1.0)
#define ORGANIC_UTILITY 0.2
#define EXIT_SATISFACTION 0.3
#define EXIT_PER_AD 0.25
#define EXIT_FATIGUE 0.1
#define DWELL_LOG_MEAN 2.5
#define DWELL_SATISFACTION 0.3
#define DWELL_FATIGUE 0.05
#define DWELL_LOG_SD 0.8

/* returns */
#define CHURN_BASE (-7.5)
#define CHURN_SATISFACTION 4.0
#define RETURN_SATISFACTION 1.5
#define SATISFACTION_MEMORY_DAYS 21.0
#define BLINDNESS_MEMORY_DAYS 43.0

/* objective: expected_revenue = true (revenue credits the click probability) */

static const double hour_exit_shift[24] = {
    0.106, 0.13, 0.145, 0.15, 0.145, 0.13, 0.106, 0.075, 0.039, 0.0, -0.039, -0.075,
    -0.106, -0.13, -0.145, -0.15, -0.145, -0.13, -0.106, -0.075, -0.039, -0.0, 0.039, 0.075,
};
static const double hour_ad_value[24] = {
    1.1, 1.052, 1.0, 0.948, 0.9, 0.859, 0.827, 0.807, 0.8, 0.807, 0.827, 0.859,
    0.9, 0.948, 1.0, 1.052, 1.1, 1.141, 1.173, 1.193, 1.2, 1.193, 1.173, 1.141,
};

/* ---- randomness ------------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t splitmix64(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in the open interval (0, 1). */
static double uniform(void) { return ((double)(splitmix64() >> 11) + 0.5) * 0x1.0p-53; }

static int have_spare_normal;
static double spare_normal;

/* Box-Muller, keeping the second value for the next call. */
static double normal(void) {
    if (have_spare_normal) {
        have_spare_normal = 0;
        return spare_normal;
    }
    double r = sqrt(-2.0 * log(uniform()));
    double angle = 2.0 * M_PI * uniform();
    spare_normal = r * sin(angle);
    have_spare_normal = 1;
    return r * cos(angle);
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static int pick(const struct segment *segments, int count, double u) {
    double cumulative = 0.0;
    for (int i = 0; i < count; i++) {
        cumulative += segments[i].share;
        if (u < cumulative) return i;
    }
    return count - 1;
}

/* ---- the model -------------------------------------------------------------------- */

struct user {
    int region;
    double log_tolerance, click_logit, exit_logit, visit_rate;
};

static struct user draw_user(void) {
    struct user user;
    user.region = pick(regions, REGIONS, uniform());
    int device = pick(devices, DEVICES, uniform());
    int tenure = pick(tenures, TENURES, uniform());
    const struct segment *r = &regions[user.region], *d = &devices[device], *t = &tenures[tenure];
    double z1 = normal(), z2 = normal(), z3 = normal(), z4 = normal();
    double rho = CLICK_TOLERANCE_CORRELATION;
    user.log_tolerance = r->tolerance + d->tolerance + t->tolerance + TOLERANCE_SD * z1;
    user.click_logit = log(BASE_CTR / (1 - BASE_CTR)) + r->click + d->click + t->click
        + CLICK_SD * (rho * z1 + sqrt(1 - rho * rho) * z2);
    user.exit_logit = BASE_EXIT_LOGIT + r->exit + d->exit + t->exit + EXIT_SD * z3;
    user.visit_rate = VISIT_RATE * exp(r->visit + d->visit + t->visit + VISIT_RATE_SD * z4);
    return user;
}

struct totals {
    long sessions, items, ads, clicks, negatives;
    double revenue, dwell;
};

/* One user's whole horizon, added to `totals`. */
static void simulate_user(const struct user *user, int days, int every, struct totals *totals) {
    double tolerance = exp(user->log_tolerance);
    int cap_bp = region_share_cap_bp[user->region];
    double satisfaction = 0.0, blindness = 0.0;
    double time = -log(uniform()) / user->visit_rate;
    while (time < days) {
        int hour = (int)((time - floor(time)) * 24);
        if (hour > 23) hour = 23;
        double base_exit = user->exit_logit + hour_exit_shift[hour];
        double ad_value = hour_ad_value[hour] * region_revenue_multiplier[user->region];
        double fatigue = 0.0;
        int ads = 0, organic_since_ad = 1 << 30;

        totals->sessions++;
        for (int position = 1; position <= MAX_ITEMS; position++) {
            fatigue *= FATIGUE_DECAY;
            int show_ad = organic_since_ad >= every && position >= FIRST_SLOT && organic_since_ad >= MIN_GAP
                && (ads + 1) * 10000 <= cap_bp * position && ads < MAX_ADS_PER_SESSION;
            double exit_logit;
            if (show_ad) {
                fatigue += 1;
                blindness += BLINDNESS_PER_AD;
                double penalty = 1.0;
                if (position <= EARLY_POSITIONS) penalty += EARLY_PENALTY;
                if (ads > 0 && organic_since_ad < BACK_TO_BACK_GAP) penalty += BACK_TO_BACK_PENALTY;
                ads++;
                double click_probability =
                    sigmoid(user->click_logit - CLICK_BLINDNESS * blindness - CLICK_FATIGUE * fatigue);
                if (uniform() < click_probability) totals->clicks++;
                totals->revenue += pow(ads, -INVENTORY_DECAY) * ad_value
                    * (REVENUE_PER_IMPRESSION + REVENUE_PER_CLICK * click_probability);
                int negative =
                    uniform() < sigmoid(NEGATIVE_BASE + NEGATIVE_FATIGUE * fatigue - user->log_tolerance);
                if (negative) {
                    totals->negatives++;
                    satisfaction -= NEGATIVE_SATISFACTION_DROP;
                }
                satisfaction += SATISFACTION_RATE * AD_UTILITY * penalty / tolerance;
                exit_logit = base_exit - EXIT_SATISFACTION * tanh(satisfaction)
                    + (EXIT_PER_AD * penalty + EXIT_FATIGUE * fatigue) / tolerance;
                if (negative) exit_logit += NEGATIVE_EXIT_BOOST;
                organic_since_ad = 0;
                totals->ads++;
            } else {
                satisfaction += SATISFACTION_RATE * ORGANIC_UTILITY;
                double tanh_s = tanh(satisfaction);
                exit_logit = base_exit - EXIT_SATISFACTION * tanh_s + EXIT_FATIGUE * fatigue / tolerance;
                totals->dwell += exp(DWELL_LOG_MEAN + DWELL_SATISFACTION * tanh_s - DWELL_FATIGUE * fatigue
                                     + DWELL_LOG_SD * normal());
                organic_since_ad++;
                totals->items++;
            }
            if (uniform() < sigmoid(exit_logit)) break;
        }

        /* Between sessions: churn, else an exponential gap whose rate rises with satisfaction. */
        double tanh_s = tanh(satisfaction);
        if (uniform() < sigmoid(CHURN_BASE - CHURN_SATISFACTION * tanh_s)) break;
        double gap = -log(uniform()) / (user->visit_rate * exp(RETURN_SATISFACTION * tanh_s));
        satisfaction *= exp(-gap / SATISFACTION_MEMORY_DAYS);
        blindness *= exp(-gap / BLINDNESS_MEMORY_DAYS);
        time += gap;
    }
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int users = argc > 1 ? atoi(argv[1]) : 2000;
    int days = argc > 2 ? atoi(argv[2]) : 120;
    int repeats = argc > 3 ? atoi(argv[3]) : 3;
    int every = argc > 4 ? atoi(argv[4]) : 12;
    if (users < 1 || days < 1 || repeats < 1 || every < 0) {
        fprintf(stderr, "usage: %s [users>=1] [days>=1] [repeats>=1] [every>=0]\n", argv[0]);
        return 2;
    }

    struct totals best = {0};
    double best_seconds = INFINITY;
    for (int repeat = 0; repeat < repeats; repeat++) {
        rng_state = 1; /* the same users and luck in every repeat */
        have_spare_normal = 0;
        struct totals totals = {0};
        double start = now_seconds();
        for (int i = 0; i < users; i++) {
            struct user user = draw_user();
            simulate_user(&user, days, every, &totals);
        }
        double seconds = now_seconds() - start;
        if (seconds < best_seconds) {
            best_seconds = seconds;
            best = totals;
        }
    }

    long positions = best.items + best.ads;
    printf("C baseline, default, fixed:every=%d, %d users x %d days, 1 thread, best of %d\n", every, users, days,
           repeats);
    printf("sessions: %ld\n", best.sessions);
    printf("positions: %ld\n", positions);
    printf("seconds: %.4f\n", best_seconds);
    printf("sessions/s: %.0f\n", best.sessions / best_seconds);
    printf("positions/session: %.2f\n", (double)positions / best.sessions);
    printf("items/session: %.2f\n", (double)best.items / best.sessions);
    printf("ads/session: %.3f\n", (double)best.ads / best.sessions);
    printf("revenue/user: %.4f\n", best.revenue / users);
    printf("ctr: %.4f\n", best.ads ? (double)best.clicks / best.ads : 0.0);
    printf("sessions/user/day: %.3f\n", (double)best.sessions / ((double)users * days));
    printf("dwell/item: %.2f\n", best.items ? best.dwell / best.items : 0.0);
    return 0;
}
