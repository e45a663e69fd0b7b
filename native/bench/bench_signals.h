/* bench_signals.h: how every benchmark program is stopped. SIGTERM (the driver's stop) and
 * SIGINT (Ctrl-C) are blocked and read from a signalfd that the program's epoll loop watches,
 * so stopping needs no handler and has no race between a flag and epoll_wait. Header-only and
 * static inline, as bench_util.h.
 */
#ifndef MONAAOT_BENCH_SIGNALS_H
#define MONAAOT_BENCH_SIGNALS_H

#include <signal.h>
#include <sys/signalfd.h>

/* Blocks SIGTERM and SIGINT, leaving them in *set: 0, or -1 with errno. */
static inline int block_stop_signals(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
  return sigprocmask(SIG_BLOCK, set, NULL);
}

/* Blocks them and returns a non-blocking, close-on-exec descriptor that reads them; -1 with
 * errno (from sigprocmask or signalfd). */
static inline int open_stop_signals(void) {
  sigset_t set;
  if (block_stop_signals(&set) < 0)
    return -1;
  return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

#endif
