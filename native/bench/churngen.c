/* churngen: connection-churn load generator for TCP echo servers (tests/bench/bench.py, the
 * churn and churn-rst scenarios).
 *
 *   churngen --port N [--host 127.0.0.1] [--slots N] [--size BYTES] [--duration SECONDS]
 *            [--rst] [--sources N]
 *
 * SLOTS (default 32) connections at a time, each in a loop: a non-blocking connect, one
 * SIZE-byte message (default 64) sent, its echo read back whole, close, and again. Plain close
 * sends a FIN; --rst sets SO_LINGER {1, 0} first, so close sends a RST (the server sees a reset
 * instead of an end of stream, and neither side keeps TIME_WAIT). A completed loop is a
 * connection; its time is from connect to the last echoed byte.
 *
 * Ephemeral ports: with a plain close the client closes first, so the client's side keeps each
 * connection in TIME_WAIT for 60 s. Linux reuses such a port for a new connect to loopback
 * after 1 s (net.ipv4.tcp_tw_reuse = 2, the default, with timestamps), and each source address
 * has its own ports: the loops are spread over --sources addresses 127.0.0.1, 127.0.0.2, ...
 * (default 16; bound with IP_BIND_ADDRESS_NO_PORT, so the port is still chosen at connect, per
 * 4-tuple). A connect that still finds no port (EADDRNOTAVAIL) is retried on the next source
 * after 1 ms and counted in addr_unavailable, not as an error.
 *
 * Every echoed byte is checked against what was sent (the byte pattern of bench_util.h, offset
 * per connection); a mismatch is reported on stderr with exit code 2. After the duration (loops
 * in progress then are closed and not counted) one line on stdout:
 *
 *   connections=N messages=N bytes=N seconds=F p50_us=F p99_us=F errors=N addr_unavailable=N
 *
 * messages = connections (one message each), so the driver's per-message figures are per
 * connection. errors counts loops that failed (refused, reset or closed by the server before
 * the echo, or no echo within 10 s); any makes the exit code 1. SIGTERM or SIGINT ends a run
 * early; the line then covers the time run. One thread, level-triggered epoll.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_signals.h"
#include "bench_util.h"

enum {
  PATTERN_PERIOD = 65521, /* prime, and not a multiple of any buffer size */
  MAX_SLOTS = 4096,
  MAX_SIZE = 64 * 1024,
  MAX_SOURCES = 250,
  MAX_EVENTS = 512,
  LOOP_TIMEOUT_S = 10, /* a loop not done by then is an error (and its slot starts over) */
  ERRORS_PRINTED = 5,
};
#define MAX_SECONDS 600.0
#define TOKEN_SIGNAL UINT64_MAX
#define RETRY_NS 1000000u /* EADDRNOTAVAIL: the slot tries again after 1 ms */

enum slot_state { SLOT_WAITING, SLOT_CONNECTING, SLOT_ECHOING };

struct options {
  const char *host;
  int port;
  int slots;
  long size;
  double duration;
  bool rst;
  int sources;
};

struct slot {
  int fd;
  enum slot_state state;
  uint32_t generation; /* in the epoll token: an event of a closed connection is ignored */
  uint32_t seed;       /* pattern offset of this connection's first byte */
  size_t sent;
  size_t received;
  uint64_t start_ns;   /* connect began (SLOT_WAITING: when to try again) */
};

struct churngen {
  struct options opt;
  struct slot *slots;
  int epfd;
  int sigfd;
  bool running;
  uint32_t next_source;
  uint64_t started; /* loops begun: varies the seed */
  uint64_t connections;
  uint64_t errors;
  uint64_t addr_unavailable;
  struct sockaddr_in server;
  unsigned char *pattern; /* PATTERN_PERIOD + MAX_SIZE bytes */
  unsigned char buffer[MAX_SIZE];
  struct histogram times;
};

static int fail(const char *what) {
  fprintf(stderr, "churngen: %s: %s\n", what, strerror(errno));
  return -1;
}

static uint64_t token_of(const struct churngen *g, const struct slot *s) {
  return (uint64_t)s->generation << 32 | (uint64_t)(s - g->slots);
}

/* Ends the slot's connection (RST with --rst) and leaves the slot waiting to start again at
 * once (retry_at 0) or later. */
static void end_connection(struct churngen *g, struct slot *s, uint64_t retry_at) {
  if (s->fd >= 0) {
    if (g->opt.rst) {
      struct linger lin = {.l_onoff = 1, .l_linger = 0};
      setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
    }
    close(s->fd); /* also removes it from the epoll set */
    s->fd = -1;
  }
  s->generation++;
  s->state = SLOT_WAITING;
  s->start_ns = retry_at;
}

static void lose(struct churngen *g, struct slot *s, const char *why) {
  if (g->errors++ < ERRORS_PRINTED)
    fprintf(stderr, "churngen: slot %d: connection lost after %zu of %ld bytes echoed: %s\n",
            (int)(s - g->slots), s->received, g->opt.size, why);
  end_connection(g, s, 0);
}

/* Opens the slot's next connection from the next source address. -1 only on a failure that
 * ends the run (no descriptor, epoll). */
static int begin(struct churngen *g, struct slot *s) {
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0)
    return fail("socket");
  int one = 1;
  struct sockaddr_in source = {.sin_family = AF_INET};
  source.sin_addr.s_addr = htonl(0x7F000001u + g->next_source++ % (uint32_t)g->opt.sources);
  if (setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) < 0)
    return fail("IP_BIND_ADDRESS_NO_PORT");
  if (bind(s->fd, (const struct sockaddr *)&source, sizeof source) < 0)
    return fail("bind");
  s->seed = (uint32_t)(g->started++ * 7919u % PATTERN_PERIOD);
  s->sent = s->received = 0;
  s->start_ns = now_ns();
  if (connect(s->fd, (const struct sockaddr *)&g->server, sizeof g->server) < 0 &&
      errno != EINPROGRESS) {
    if (errno == EADDRNOTAVAIL) { /* no free port for this 4-tuple now: try again shortly */
      g->addr_unavailable++;
      end_connection(g, s, now_ns() + RETRY_NS);
      return 0;
    }
    lose(g, s, strerror(errno));
    return 0;
  }
  s->state = SLOT_CONNECTING;
  struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = token_of(g, s)};
  return epoll_ctl(g->epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0 ? fail("epoll_ctl") : 0;
}

/* The connect completed: its outcome, then the message (64 bytes fit any empty send buffer,
 * but a short send is finished on the next EPOLLOUT all the same). */
static void on_writable(struct churngen *g, struct slot *s) {
  if (s->state == SLOT_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
      lose(g, s, strerror(err ? err : errno));
      return;
    }
    s->state = SLOT_ECHOING;
  }
  while (s->sent < (size_t)g->opt.size) {
    ssize_t n = send(s->fd, g->pattern + s->seed + s->sent, (size_t)g->opt.size - s->sent,
                     MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (n < 0) {
      lose(g, s, strerror(errno));
      return;
    }
    s->sent += (size_t)n;
  }
  uint32_t events = EPOLLIN | (s->sent < (size_t)g->opt.size ? EPOLLOUT : 0u);
  struct epoll_event ev = {.events = events, .data.u64 = token_of(g, s)};
  if (epoll_ctl(g->epfd, EPOLL_CTL_MOD, s->fd, &ev) < 0)
    lose(g, s, strerror(errno));
}

static void on_readable(struct churngen *g, struct slot *s) {
  ssize_t n = recv(s->fd, g->buffer, sizeof g->buffer, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return;
  if (n <= 0) {
    lose(g, s, n == 0 ? "closed by the server" : strerror(errno));
    return;
  }
  if (s->received + (size_t)n > s->sent) {
    fprintf(stderr, "churngen: slot %d: %zu bytes echoed, only %zu sent\n", (int)(s - g->slots),
            s->received + (size_t)n, s->sent);
    exit(2);
  }
  const unsigned char *expected = g->pattern + s->seed + s->received;
  if (memcmp(g->buffer, expected, (size_t)n) != 0) {
    size_t i = 0;
    while (g->buffer[i] == expected[i])
      i++;
    fprintf(stderr, "churngen: slot %d: echoed byte %zu is 0x%02x, expected 0x%02x\n",
            (int)(s - g->slots), s->received + i, g->buffer[i], expected[i]);
    exit(2);
  }
  s->received += (size_t)n;
  if (s->received < (size_t)g->opt.size)
    return;
  record(&g->times, now_ns() - s->start_ns);
  g->connections++;
  end_connection(g, s, 0);
}

static void dispatch(struct churngen *g, const struct epoll_event *ev) {
  if (ev->data.u64 == TOKEN_SIGNAL) {
    g->running = false;
    return;
  }
  struct slot *s = &g->slots[(uint32_t)ev->data.u64];
  if (s->state == SLOT_WAITING || s->generation != (uint32_t)(ev->data.u64 >> 32))
    return; /* that connection is gone */
  if (ev->events & EPOLLOUT || s->state == SLOT_CONNECTING)
    on_writable(g, s);
  if (s->state == SLOT_ECHOING && ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
    on_readable(g, s); /* an error or hang-up shows up as the recv's result */
}

/* Starts the slots whose time has come; fails the loops that took too long. The epoll
 * timeout that keeps a waiting slot on time. */
static int tend_slots(struct churngen *g, uint64_t now, uint64_t deadline, int *timeout) {
  *timeout = timeout_ms(deadline);
  for (int i = 0; i < g->opt.slots; i++) {
    struct slot *s = &g->slots[i];
    if (s->state == SLOT_WAITING && s->start_ns <= now) {
      if (begin(g, s) < 0)
        return -1;
    } else if (s->state != SLOT_WAITING && now - s->start_ns > LOOP_TIMEOUT_S * 1000000000ull) {
      lose(g, s, "no echo within 10 s");
    }
    if (s->state == SLOT_WAITING)
      *timeout = 1;
  }
  return 0;
}

static int run(struct churngen *g) {
  struct epoll_event events[MAX_EVENTS];
  uint64_t start = now_ns();
  uint64_t deadline = start + (uint64_t)(g->opt.duration * 1e9);
  g->running = true;
  for (uint64_t now = start; g->running && now < deadline; now = now_ns()) {
    int timeout;
    if (tend_slots(g, now, deadline, &timeout) < 0)
      return -1;
    int n = epoll_wait(g->epfd, events, MAX_EVENTS, timeout);
    if (n < 0 && errno != EINTR)
      return fail("epoll_wait");
    for (int i = 0; i < n; i++)
      dispatch(g, &events[i]);
  }
  double seconds = (double)(now_ns() - start) / 1e9;
  for (int i = 0; i < g->opt.slots; i++) /* loops in progress: not counted */
    if (g->slots[i].fd >= 0)
      close(g->slots[i].fd);
  printf("connections=%llu messages=%llu bytes=%llu seconds=%.3f p50_us=%.1f p99_us=%.1f "
         "errors=%llu addr_unavailable=%llu\n",
         (unsigned long long)g->connections, (unsigned long long)g->connections,
         (unsigned long long)(g->connections * (uint64_t)g->opt.size), seconds,
         percentile_us(&g->times, 0.50), percentile_us(&g->times, 0.99),
         (unsigned long long)g->errors, (unsigned long long)g->addr_unavailable);
  fflush(stdout);
  return 0;
}

/* ---- set-up ------------------------------------------------------------------------------- */

static int usage(void) {
  fprintf(stderr, "usage: churngen --port N [--host 127.0.0.1] [--slots N (1-%d)]\n"
                  "                [--size BYTES (1-%d)] [--duration SECONDS (max %g, default 10)]\n"
                  "                [--rst] [--sources N (1-%d, default 16)]\n",
          MAX_SLOTS, MAX_SIZE, MAX_SECONDS, MAX_SOURCES);
  return -1;
}

static int parse_options(int argc, char **argv, struct options *o) {
  static const struct option longs[] = {
      {"port", required_argument, 0, 'p'},     {"host", required_argument, 0, 'h'},
      {"slots", required_argument, 0, 'c'},    {"size", required_argument, 0, 's'},
      {"duration", required_argument, 0, 'd'}, {"rst", no_argument, 0, 'r'},
      {"sources", required_argument, 0, 'a'},  {0, 0, 0, 0}};
  *o = (struct options){.host = "127.0.0.1", .slots = 32, .size = 64, .duration = 10, .sources = 16};
  int key;
  long value = 0;
  while ((key = getopt_long(argc, argv, "", longs, NULL)) != -1) {
    int bad = 0;
    switch (key) {
    case 'p': bad = parse_long_option("churngen", optarg, "port", 1, 65535, &value); o->port = (int)value; break;
    case 'h': o->host = optarg; break;
    case 'c': bad = parse_long_option("churngen", optarg, "slots", 1, MAX_SLOTS, &value); o->slots = (int)value; break;
    case 's': bad = parse_long_option("churngen", optarg, "size", 1, MAX_SIZE, &o->size); break;
    case 'd': bad = parse_seconds_option("churngen", optarg, MAX_SECONDS, &o->duration); break;
    case 'r': o->rst = true; break;
    case 'a': bad = parse_long_option("churngen", optarg, "sources", 1, MAX_SOURCES, &value); o->sources = (int)value; break;
    default: return usage();
    }
    if (bad < 0)
      return -1;
  }
  return optind != argc || o->port == 0 ? usage() : 0;
}

static int set_up(struct churngen *g) {
  g->server = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)g->opt.port)};
  if (inet_pton(AF_INET, g->opt.host, &g->server.sin_addr) != 1) {
    fprintf(stderr, "churngen: --host must be a numeric IPv4 address\n");
    return -1;
  }
  if ((ntohl(g->server.sin_addr.s_addr) >> 24) != 127) {
    fprintf(stderr, "churngen: --host must be a loopback address (127.x.x.x), as the sources are\n");
    return -1;
  }
  if (!(g->pattern = malloc(PATTERN_PERIOD + MAX_SIZE)) ||
      !(g->slots = calloc((size_t)g->opt.slots, sizeof *g->slots)))
    return fail("malloc");
  fill_pattern(g->pattern, PATTERN_PERIOD, PATTERN_PERIOD + MAX_SIZE);
  for (int i = 0; i < g->opt.slots; i++)
    g->slots[i].fd = -1; /* SLOT_WAITING, due at once */
  if ((g->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
    return fail("epoll_create1");
  if ((g->sigfd = open_stop_signals()) < 0)
    return fail("SIGTERM/SIGINT descriptor");
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TOKEN_SIGNAL};
  return epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->sigfd, &ev) < 0 ? fail("epoll_ctl") : 0;
}

int main(int argc, char **argv) {
  static struct churngen g; /* static: the histogram and buffer stay off the stack */
  if (parse_options(argc, argv, &g.opt) < 0)
    return 2;
  if (set_up(&g) < 0 || run(&g) < 0)
    return 1;
  return g.errors ? 1 : 0;
}
