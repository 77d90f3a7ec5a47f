/* util.c -- time, randomness and secret-memory helpers. */
#include "common/util.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t cs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t cs_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cs_sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static _Thread_local uint64_t rng_state;

uint64_t cs_rand_u64(void)
{
    if (rng_state == 0) {
        if (RAND_bytes((unsigned char *)&rng_state, sizeof(rng_state)) != 1 || rng_state == 0)
            rng_state = (uint64_t)cs_wall_ms() ^ (uint64_t)(uintptr_t)&rng_state ^ 0x9e3779b97f4a7c15u;
    }
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Du;
}

double cs_rand_unit(void)
{
    return (double)(cs_rand_u64() >> 11) * (1.0 / 9007199254740992.0);
}

void cs_secure_free(void *p, size_t n)
{
    if (!p)
        return;
    OPENSSL_cleanse(p, n);
    free(p);
}

void cs_secure_free_str(char *s)
{
    if (s)
        cs_secure_free(s, strlen(s));
}

char *cs_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

void cs_format_time(int64_t wall_ms, bool micro, char out[32])
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    if (micro)
        snprintf(out + n, 32 - n, ".%06ldZ", (long)(wall_ms % 1000) * 1000L);
    else
        snprintf(out + n, 32 - n, "Z");
}

bool cs_parse_time(const char *s, int64_t *wall_ms)
{
    if (!s)
        return false;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return false;
    long ms = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0)
            return false;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    if (strcmp(p, "Z") != 0)
        return false;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return false;
    *wall_ms = (int64_t)t * 1000 + ms;
    return true;
}
