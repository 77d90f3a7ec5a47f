/* util.h -- time, randomness and secret-memory helpers shared by every module. */
#ifndef CS_UTIL_H
#define CS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds on the monotonic clock (for deadlines and intervals). */
uint64_t cs_now_ms(void);
/* Milliseconds since the Unix epoch (for timestamps). */
int64_t cs_wall_ms(void);
void cs_sleep_ms(uint64_t ms);

/* A uniformly random 64-bit value, thread-safe (per-thread generator seeded from the OS).
 * Not for cryptography: for jitter and fault injection. */
uint64_t cs_rand_u64(void);
/* A random double in [0, 1). */
double cs_rand_unit(void);

/* OPENSSL_cleanse the n bytes at p, then free(p). NULL is a no-op. */
void cs_secure_free(void *p, size_t n);
/* Same for a NUL-terminated string. */
void cs_secure_free_str(char *s);

/* strdup that returns NULL for NULL. */
char *cs_strdup(const char *s);

/* Formats an RFC 3339 UTC timestamp with microseconds ("2026-11-23T05:45:01.000000Z", the
 * Kubernetes MicroTime form) or seconds ("2026-11-23T05:45:01Z") into out (>= 32 bytes). */
void cs_format_time(int64_t wall_ms, bool micro, char out[32]);
/* Parses both forms above (and any fraction); returns false on anything else. */
bool cs_parse_time(const char *s, int64_t *wall_ms);

#endif
