/* backoff.c -- back-off and token bucket. */
#include "common/backoff.h"

#include "common/util.h"

void cs_backoff_init(struct cs_backoff *b, uint64_t initial_ms, uint64_t max_ms, double factor,
                     double jitter, uint64_t reset_after_ms)
{
    b->initial_ms = initial_ms ? initial_ms : 1;
    b->max_ms = max_ms < b->initial_ms ? b->initial_ms : max_ms;
    b->factor = factor < 1.0 ? 1.0 : factor;
    b->jitter = jitter < 0 ? 0 : jitter;
    b->reset_after_ms = reset_after_ms;
    b->current_ms = b->initial_ms;
    b->last_ms = 0;
}

void cs_backoff_reset(struct cs_backoff *b)
{
    b->current_ms = b->initial_ms;
}

uint64_t cs_backoff_next(struct cs_backoff *b, uint64_t now_ms)
{
    if (b->reset_after_ms && b->last_ms && now_ms - b->last_ms >= b->reset_after_ms)
        b->current_ms = b->initial_ms;
    b->last_ms = now_ms ? now_ms : 1;
    uint64_t base = b->current_ms;
    double next = (double)base * b->factor;
    b->current_ms = next > (double)b->max_ms ? b->max_ms : (uint64_t)next;
    double d = (double)base * (1.0 + b->jitter * cs_rand_unit());
    if (d > (double)b->max_ms * (1.0 + b->jitter))
        d = (double)b->max_ms * (1.0 + b->jitter);
    return (uint64_t)d;
}

void cs_token_bucket_init(struct cs_token_bucket *tb, double rate, double burst)
{
    pthread_mutex_init(&tb->lock, NULL);
    tb->rate = rate;
    tb->burst = burst < 1 ? 1 : burst;
    tb->tokens = tb->burst;
    tb->last_ms = 0;
}

void cs_token_bucket_cleanup(struct cs_token_bucket *tb)
{
    pthread_mutex_destroy(&tb->lock);
}

uint64_t cs_token_bucket_reserve(struct cs_token_bucket *tb, uint64_t now_ms)
{
    pthread_mutex_lock(&tb->lock);
    if (tb->rate <= 0) {
        pthread_mutex_unlock(&tb->lock);
        return 0;
    }
    if (tb->last_ms == 0)
        tb->last_ms = now_ms;
    if (now_ms > tb->last_ms) {
        tb->tokens += (double)(now_ms - tb->last_ms) * tb->rate / 1000.0;
        if (tb->tokens > tb->burst)
            tb->tokens = tb->burst;
        tb->last_ms = now_ms;
    }
    tb->tokens -= 1.0;
    uint64_t wait = 0;
    if (tb->tokens < 0)
        wait = (uint64_t)(-tb->tokens * 1000.0 / tb->rate + 0.999);
    pthread_mutex_unlock(&tb->lock);
    return wait;
}
