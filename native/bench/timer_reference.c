/* timer_reference: the yardstick MonaAot's timers (mona:setTimer, docs/api.md "Timer") are
 * benchmarked against (the timer scenario of tests/bench/bench.py).
 *
 *   timer_reference TIMERS FIRES REARMS
 *
 * A minimal epoll loop with an indexed binary min-heap of timers keyed by (due time, arming
 * order), on the monotonic clock, running the schedule of the benchmark's Lua application
 * (tests/bench/apps/timer.lua), which must stay the same as this one:
 *
 *   fire    TIMERS one-shot timers are armed, timer i for delay(i * FIRES) ms; its k-th firing
 *           (k = 1..FIRES-1) re-arms it for delay(i * FIRES + k) ms by returning that delay, so
 *           every timer fires FIRES times. delay(n) is 1..1000 ms, a hash of n (below), so each
 *           timer gets the same delays on both sides whatever order they fire in.
 *   re-arm  every timer is armed again for 60 s + delay(i) (not measured), then REARMS re-arms
 *           go round them, re-arm j giving timer j % TIMERS 60 s + delay(j) from now.
 *   stop    every timer is stopped.
 *
 * Each phase is measured with the process CPU clock (CLOCK_PROCESS_CPUTIME_ID: user + system
 * time, the accounting of /proc/PID/stat fields 14 and 15, in nanoseconds rather than ticks),
 * which Lua's os.clock() reads on the other side. Then it prints one line, flushed:
 *
 *   done timers=N fires=N fire_cpu_s=F late_ms=F rearms=N rearm_cpu_s=F stops=N stop_cpu_s=F wall_s=F
 *
 * (late_ms: the mean lateness of a firing, elapsed - delay, as a sign of a loop that keeps up)
 * and waits for SIGTERM or SIGINT, so that the driver can read its peak RSS; exit code 0.
 * No timer fires early: the epoll timeout is rounded up to the next millisecond.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "bench_signals.h"

#define STOPPED UINT32_MAX

struct timer {
  uint64_t due_ns;  /* when it fires */
  uint64_t seq;     /* arming order: the tie-break among equal due times */
  uint64_t armed_ns;
  uint32_t delay_ms;
  uint32_t pos;     /* index in the heap, STOPPED when not armed */
  uint32_t fired;   /* firings so far */
  uint32_t id;
};

/* The callback: what the Lua function of the other side does. Returns the next delay, 0 to
 * stay stopped. */
typedef uint32_t (*timer_fn)(struct timer *t, uint64_t elapsed_ms);

static struct timer *timers;
static uint32_t *heap; /* timer ids, heap[0] the earliest */
static uint32_t heap_len;
static uint64_t next_seq;
static uint32_t fires_per_timer;
static uint64_t total_fired, total_late_ms;

static uint64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
static double cpu_s(void) { return (double)clock_ns(CLOCK_PROCESS_CPUTIME_ID) / 1e9; }

/* 1..1000 ms: Knuth's multiplicative hash of n, the same arithmetic as the Lua side. */
static uint32_t delay_of(uint64_t n) {
  return (uint32_t)((((n * 2654435761u) & 0xffffffffu) >> 16) % 1000 + 1);
}

/* ---- the indexed min-heap ------------------------------------------------------------------ */

static int earlier(uint32_t a, uint32_t b) {
  const struct timer *x = &timers[a], *y = &timers[b];
  return x->due_ns < y->due_ns || (x->due_ns == y->due_ns && x->seq < y->seq);
}

static void place(uint32_t pos, uint32_t id) {
  heap[pos] = id;
  timers[id].pos = pos;
}

static void sift_up(uint32_t pos) {
  uint32_t id = heap[pos];
  while (pos > 0) {
    uint32_t parent = (pos - 1) / 2;
    if (!earlier(id, heap[parent]))
      break;
    place(pos, heap[parent]);
    pos = parent;
  }
  place(pos, id);
}

static void sift_down(uint32_t pos) {
  uint32_t id = heap[pos];
  for (;;) {
    uint32_t child = 2 * pos + 1;
    if (child >= heap_len)
      break;
    if (child + 1 < heap_len && earlier(heap[child + 1], heap[child]))
      child++;
    if (!earlier(heap[child], id))
      break;
    place(pos, heap[child]);
    pos = child;
  }
  place(pos, id);
}

static void stop(struct timer *t) {
  if (t->pos == STOPPED)
    return;
  uint32_t pos = t->pos, last = heap[--heap_len];
  t->pos = STOPPED;
  if (pos == heap_len)
    return;
  place(pos, last);
  sift_down(pos);
  sift_up(timers[last].pos);
}

/* Arms t (armed or stopped) for delay_ms from now: O(log n). */
static void arm(struct timer *t, uint32_t delay_ms) {
  t->armed_ns = now_ns();
  t->due_ns = t->armed_ns + (uint64_t)delay_ms * 1000000u;
  t->delay_ms = delay_ms;
  t->seq = next_seq++;
  if (t->pos == STOPPED) {
    place(heap_len++, t->id);
    sift_up(t->pos);
  } else {
    sift_down(t->pos);
    sift_up(t->pos);
  }
}

/* ---- the loop ------------------------------------------------------------------------------ */

/* The benchmark's callback: count, then re-arm for the next delay until FIRES firings. */
static uint32_t on_fire(struct timer *t, uint64_t elapsed_ms) {
  total_fired++;
  total_late_ms += elapsed_ms - t->delay_ms;
  if (++t->fired < fires_per_timer)
    return delay_of((uint64_t)t->id * fires_per_timer + t->fired);
  return 0;
}

/* Fires every timer due by now, in (due, arming order); returns when none is due. */
static void fire_due(timer_fn fn) {
  uint64_t now = now_ns();
  while (heap_len > 0 && timers[heap[0]].due_ns <= now) {
    struct timer *t = &timers[heap[0]];
    stop(t);
    uint32_t next = fn(t, (now - t->armed_ns) / 1000000u);
    if (next > 0)
      arm(t, next);
  }
}

/* Milliseconds until the earliest timer, rounded up (never early); -1 when none is armed. */
static int timeout_ms(void) {
  if (heap_len == 0)
    return -1;
  uint64_t now = now_ns(), due = timers[heap[0]].due_ns;
  if (due <= now)
    return 0;
  uint64_t ms = (due - now + 999999u) / 1000000u;
  return ms > 60000 ? 60000 : (int)ms;
}

static int run_loop(int epfd) {
  struct epoll_event events[16];
  while (heap_len > 0) {
    int n = epoll_wait(epfd, events, 16, timeout_ms());
    if (n < 0 && errno != EINTR) {
      fprintf(stderr, "timer_reference: epoll_wait: %s\n", strerror(errno));
      return -1;
    }
    fire_due(on_fire);
  }
  return 0;
}

static long parse_count(const char *text, const char *name, long max) {
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || *end || v < 1 || v > max) {
    fprintf(stderr, "timer_reference: %s must be 1-%ld (got '%s')\n", name, max, text);
    return -1;
  }
  return v;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: timer_reference TIMERS FIRES REARMS\n");
    return 2;
  }
  long count = parse_count(argv[1], "TIMERS", 10000000), fires = parse_count(argv[2], "FIRES", 1000),
       rearms = parse_count(argv[3], "REARMS", 1000000000);
  if (count < 0 || fires < 0 || rearms < 0)
    return 2;
  uint32_t n = (uint32_t)count;
  fires_per_timer = (uint32_t)fires;
  sigset_t set;
  block_stop_signals(&set);
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  timers = calloc(n, sizeof *timers);
  heap = calloc(n, sizeof *heap);
  if (epfd < 0 || !timers || !heap) {
    fprintf(stderr, "timer_reference: set-up failed: %s\n", strerror(errno));
    return 1;
  }
  for (uint32_t i = 0; i < n; i++)
    timers[i] = (struct timer){.pos = STOPPED, .id = i};

  uint64_t wall0 = now_ns();
  double cpu0 = cpu_s();
  for (uint32_t i = 0; i < n; i++)
    arm(&timers[i], delay_of((uint64_t)i * fires_per_timer));
  if (run_loop(epfd) < 0)
    return 1;
  double cpu1 = cpu_s();
  double wall = (double)(now_ns() - wall0) / 1e9;

  for (uint32_t i = 0; i < n; i++)
    arm(&timers[i], 60000 + delay_of(i));
  double cpu2 = cpu_s();
  for (long j = 0; j < rearms; j++)
    arm(&timers[j % n], 60000 + delay_of((uint64_t)j));
  double cpu3 = cpu_s();
  for (uint32_t i = 0; i < n; i++)
    stop(&timers[i]);
  double cpu4 = cpu_s();

  printf("done timers=%u fires=%llu fire_cpu_s=%.6f late_ms=%.3f rearms=%ld rearm_cpu_s=%.6f "
         "stops=%u stop_cpu_s=%.6f wall_s=%.3f\n",
         n, (unsigned long long)total_fired, cpu1 - cpu0,
         total_fired ? (double)total_late_ms / (double)total_fired : 0.0, rearms, cpu3 - cpu2, n,
         cpu4 - cpu3, wall);
  fflush(stdout);
  int sig;
  sigwait(&set, &sig); /* held until the driver has read the peak RSS */
  return 0;
}
