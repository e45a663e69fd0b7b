/* bench_util.h: what the load generators (loadgen.c for TCP, udpgen.c for UDP) share: the
 * monotonic clock, epoll timeouts, the verification byte pattern and the latency histogram.
 * Header-only and static inline, so each generator stays one self-contained .c file and the
 * functions one of them does not use raise no warning.
 */
#ifndef MONAAOT_BENCH_UTIL_H
#define MONAAOT_BENCH_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>

enum {
  HIST_BUCKETS = 58 * 64 + 128, /* see bucket_of: every uint64 nanosecond value fits */
};

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* epoll_wait timeout until deadline: at least 1 ms so the loop never spins on 0, at most 1 s. */
static inline int timeout_ms(uint64_t deadline_ns) {
  uint64_t now = now_ns();
  if (now >= deadline_ns)
    return 0;
  uint64_t ms = (deadline_ns - now) / 1000000u + 1;
  return ms > 1000 ? 1000 : (int)ms;
}

/* Fills pattern[0..len) with a pseudo-random sequence of the given period (pattern[i] ==
 * pattern[i - period]), so that any window of len - period bytes starting below period is
 * contiguous. A prime period that is no multiple of any buffer size keeps a shifted or repeated
 * block of bytes from matching by chance. */
static inline void fill_pattern(unsigned char *pattern, size_t period, size_t len) {
  uint32_t x = 0x9E3779B9u; /* xorshift32: cheap, and no short repeats within the period */
  for (size_t i = 0; i < period && i < len; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    pattern[i] = (unsigned char)(x >> 24);
  }
  for (size_t i = period; i < len; i++)
    pattern[i] = pattern[i - period];
}

/* Log-linear latency histogram: exact below 128 ns, then 64 buckets per power of two (< 1.6 %
 * error). Fixed size whatever the duration, unlike a list of samples. */
struct histogram {
  uint64_t counts[HIST_BUCKETS];
  uint64_t total;
};

static inline unsigned bucket_of(uint64_t ns) {
  if (ns < 128)
    return (unsigned)ns;
  int shift = 63 - __builtin_clzll(ns) - 6; /* keeps 7 significant bits: 64..127 */
  return (unsigned)shift * 64 + (unsigned)(ns >> shift);
}

static inline double bucket_middle(unsigned bucket) {
  if (bucket < 128)
    return bucket;
  unsigned shift = bucket / 64 - 1;
  uint64_t low = (uint64_t)(bucket - shift * 64) << shift;
  return (double)low + (double)((uint64_t)1 << shift) / 2;
}

static inline void record(struct histogram *h, uint64_t ns) {
  h->counts[bucket_of(ns)]++;
  h->total++;
}

static inline double percentile_us(const struct histogram *h, double q) {
  if (h->total == 0)
    return 0;
  uint64_t rank = (uint64_t)(q * (double)h->total + 0.999999);
  uint64_t seen = 0;
  for (unsigned b = 0; b < HIST_BUCKETS; b++) {
    seen += h->counts[b];
    if (seen >= rank && h->counts[b])
      return bucket_middle(b) / 1000.0;
  }
  return 0;
}

/* ---- options ------------------------------------------------------------------------------ */

/* An integer option in [min, max]; a bad one is reported as "<program>: --<name> must be ..." */
static inline int parse_long_option(const char *program, const char *text, const char *name,
                                    long min, long max, long *out) {
  char *end;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno || end == text || *end || value < min || value > max) {
    fprintf(stderr, "%s: --%s must be an integer from %ld to %ld\n", program, name, min, max);
    return -1;
  }
  *out = value;
  return 0;
}

/* --duration: a number of seconds in (0, max]. */
static inline int parse_seconds_option(const char *program, const char *text, double max, double *out) {
  char *end;
  errno = 0;
  double value = strtod(text, &end);
  if (errno || end == text || *end || !(value > 0 && value <= max)) {
    fprintf(stderr, "%s: --duration must be a number of seconds in (0, %g]\n", program, max);
    return -1;
  }
  *out = value;
  return 0;
}

#endif
