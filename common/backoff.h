/* backoff.h -- jittered exponential back-off and a token-bucket rate limiter. */
#ifndef CS_BACKOFF_H
#define CS_BACKOFF_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* client-go's reflector: 800 ms doubling to 30 s, jittered, reset after 2 minutes of health. */
struct cs_backoff {
    uint64_t initial_ms;
    uint64_t max_ms;
    double factor;   /* growth per failure, e.g. 2.0 */
    double jitter;   /* each delay is scaled by a random factor in [1, 1 + jitter] */
    uint64_t reset_after_ms; /* 0: never reset on its own */
    uint64_t current_ms;     /* the next un-jittered delay */
    uint64_t last_ms;        /* monotonic time of the last cs_backoff_next */
};

void cs_backoff_init(struct cs_backoff *b, uint64_t initial_ms, uint64_t max_ms, double factor,
                     double jitter, uint64_t reset_after_ms);
/* The delay to wait before the next attempt, growing with each call. now_ms is the monotonic
 * clock (cs_now_ms()); a quiet period of reset_after_ms brings the delay back to initial. */
uint64_t cs_backoff_next(struct cs_backoff *b, uint64_t now_ms);
void cs_backoff_reset(struct cs_backoff *b);

/* A thread-safe token bucket: rate tokens per second, at most burst stored. */
struct cs_token_bucket {
    pthread_mutex_t lock; /* guards every field below */
    double rate;
    double burst;
    double tokens;
    uint64_t last_ms;
};

void cs_token_bucket_init(struct cs_token_bucket *tb, double rate, double burst);
void cs_token_bucket_cleanup(struct cs_token_bucket *tb);
/* Takes one token. Returns 0 if one was available, else the milliseconds until it will be
 * (the token is reserved: the caller waits that long and goes ahead). rate <= 0: unlimited. */
uint64_t cs_token_bucket_reserve(struct cs_token_bucket *tb, uint64_t now_ms);

#endif
