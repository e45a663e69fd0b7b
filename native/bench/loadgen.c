/* loadgen: load generator for TCP echo servers (MonaAot's echo benchmark).
 *
 *   loadgen --port N [--host 127.0.0.1] [--connections N] [--size BYTES]
 *           [--mode pingpong|stream|idle] [--idle] [--duration SECONDS] [--window BYTES]
 *
 * pingpong  each connection sends one message of SIZE bytes, waits until all SIZE bytes came
 *           back, and sends the next; every round trip is timed.
 * stream    each connection writes continuously, at most WINDOW bytes (default 256 KiB) ahead
 *           of what came back, and reads the echo back. A large window makes a source that
 *           outruns a slow path (the relay benchmark's memory figure, tests/bench/bench.py).
 * idle      (also --idle) opens the connections, prints "connected=N" once all are
 *           established, then holds them open until stdin closes, SIGTERM/SIGINT, or the
 *           duration (default 600 s) ends. Used to measure a server's memory per connection.
 *
 * Every echoed byte is checked against what was sent: each connection sends a deterministic
 * byte pattern, so a dropped, duplicated, reordered or foreign byte is a mismatch, reported on
 * stderr with exit code 2. pingpong and stream print one line on stdout after the duration:
 *
 *   messages=N bytes=N seconds=F p50_us=F p99_us=F errors=N
 *
 * bytes counts echoed bytes received; in stream mode messages = bytes / SIZE and the
 * percentiles are 0. errors counts connections lost (reset, closed by the server); any makes
 * the exit code 1. SIGTERM or SIGINT ends a run early; the line then covers the time run.
 * One thread, level-triggered epoll, non-blocking sockets.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_signals.h"
#include "bench_util.h"

enum {
  CHUNK = 64 * 1024,            /* largest single send or recv */
  STREAM_WINDOW = 256 * 1024,   /* stream mode: bytes in flight per connection, by default */
  PATTERN_PERIOD = 65521,       /* prime, and not a multiple of any buffer size */
  MAX_CONNECTIONS = 20000,
  MAX_SIZE = 16 * 1024 * 1024,
  MAX_EVENTS = 512,
  CONNECT_PARALLEL = 256,       /* connects in progress at once; avoids SYN-queue overflow */
  CONNECT_TIMEOUT_S = 30,
  ERRORS_PRINTED = 5,           /* lost connections described on stderr; the rest are counted */
};
#define MAX_SECONDS 600.0
#define MAX_WINDOW (1L << 30)
#define TOKEN_SIGNAL UINT64_MAX
#define TOKEN_STDIN (UINT64_MAX - 1)

enum mode { MODE_PINGPONG, MODE_STREAM, MODE_IDLE };
enum conn_state { CONN_NEW, CONN_CONNECTING, CONN_OPEN, CONN_CLOSED };

struct options {
  const char *host;
  int port;
  int connections;
  long size;
  enum mode mode;
  long window;     /* stream mode: bytes in flight per connection */
  double duration; /* < 0: not given */
};

struct conn {
  int fd;
  int id;
  enum conn_state state;
  uint32_t events;      /* epoll interest currently registered */
  uint32_t seed;        /* pattern offset of this connection's first byte */
  uint64_t sent;        /* bytes written so far */
  uint64_t received;    /* echoed bytes read and verified so far */
  uint64_t message_end; /* ping-pong: stream position where the current message ends */
  uint64_t message_start_ns;
};

struct loadgen {
  struct options opt;
  struct conn *conns;
  int epfd;
  int sigfd;
  int open_count;
  int errors;
  bool interrupted;
  uint64_t messages;
  uint64_t bytes;
  double seconds;
  unsigned char *pattern; /* PATTERN_PERIOD + CHUNK bytes: any CHUNK-long window is contiguous */
  unsigned char buffer[CHUNK];
  struct histogram rtt;
};

/* ---- small helpers ---------------------------------------------------------------------- */

static int fail(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  return -1;
}

static int watch(struct loadgen *g, int op, int fd, uint64_t token, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.u64 = token};
  return epoll_ctl(g->epfd, op, fd, &ev);
}

/* ---- byte pattern and verification ------------------------------------------------------ */

static int make_pattern(struct loadgen *g) {
  g->pattern = malloc(PATTERN_PERIOD + CHUNK);
  if (!g->pattern)
    return fail("malloc");
  fill_pattern(g->pattern, PATTERN_PERIOD, PATTERN_PERIOD + CHUNK);
  return 0;
}

/* The bytes a connection sends from stream position pos on (valid for CHUNK bytes). */
static const unsigned char *pattern_at(const struct loadgen *g, const struct conn *c,
                                       uint64_t pos) {
  return g->pattern + (pos + c->seed) % PATTERN_PERIOD;
}

static void verify(struct loadgen *g, struct conn *c, size_t len) {
  const unsigned char *expected = pattern_at(g, c, c->received);
  if (c->received + len > c->sent) {
    fprintf(stderr, "loadgen: connection %d: %llu bytes echoed, only %llu sent\n", c->id,
            (unsigned long long)(c->received + len), (unsigned long long)c->sent);
    exit(2);
  }
  if (memcmp(g->buffer, expected, len) == 0)
    return;
  size_t i = 0;
  while (g->buffer[i] == expected[i])
    i++;
  fprintf(stderr, "loadgen: connection %d: echoed byte %llu is 0x%02x, expected 0x%02x\n", c->id,
          (unsigned long long)(c->received + i), g->buffer[i], expected[i]);
  exit(2);
}

/* ---- connections -------------------------------------------------------------------------- */

static void set_interest(struct loadgen *g, struct conn *c, uint32_t events) {
  if (c->events == events)
    return;
  c->events = events;
  if (watch(g, EPOLL_CTL_MOD, c->fd, (uint64_t)c->id, events) < 0)
    fail("epoll_ctl");
}

static void close_conn(struct loadgen *g, struct conn *c) {
  close(c->fd);
  c->state = CONN_CLOSED;
  g->open_count--;
}

/* A connection lost during the run: counted, described (the first few), and dropped. */
static void lose_conn(struct loadgen *g, struct conn *c, const char *why) {
  if (g->errors++ < ERRORS_PRINTED)
    fprintf(stderr, "loadgen: connection %d lost after %llu bytes echoed: %s\n", c->id,
            (unsigned long long)c->received, why);
  close_conn(g, c);
}

static uint64_t write_limit(const struct loadgen *g, const struct conn *c) {
  if (g->opt.mode == MODE_PINGPONG)
    return c->message_end;
  return c->received + (uint64_t)g->opt.window;
}

/* Writes until the limit or until the kernel takes no more; waits for EPOLLOUT only then. */
static void fill(struct loadgen *g, struct conn *c) {
  uint64_t limit = write_limit(g, c);
  while (c->sent < limit) {
    uint64_t left = limit - c->sent;
    size_t len = left < CHUNK ? (size_t)left : CHUNK;
    ssize_t n = send(c->fd, pattern_at(g, c, c->sent), len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (n < 0) {
      lose_conn(g, c, strerror(errno));
      return;
    }
    c->sent += (uint64_t)n;
  }
  set_interest(g, c, EPOLLIN | (c->sent < limit ? EPOLLOUT : 0u));
}

static void begin_message(struct loadgen *g, struct conn *c) {
  c->message_start_ns = now_ns();
  c->message_end = c->sent + (uint64_t)g->opt.size;
  fill(g, c);
}

static void on_readable(struct loadgen *g, struct conn *c) {
  ssize_t n = recv(c->fd, g->buffer, CHUNK, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return;
  if (n <= 0) {
    lose_conn(g, c, n == 0 ? "closed by the server" : strerror(errno));
    return;
  }
  verify(g, c, (size_t)n);
  c->received += (uint64_t)n;
  g->bytes += (uint64_t)n;
  if (g->opt.mode == MODE_STREAM) {
    fill(g, c); /* the echo freed window space */
  } else if (c->received == c->message_end) {
    record(&g->rtt, now_ns() - c->message_start_ns);
    g->messages++;
    begin_message(g, c);
  }
}

static void on_conn_event(struct loadgen *g, struct conn *c, uint32_t events) {
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
    on_readable(g, c); /* an error or hang-up shows up as the recv's result */
  if (c->state == CONN_OPEN && (events & EPOLLOUT))
    fill(g, c);
}

/* ---- connecting -------------------------------------------------------------------------- */

static int start_connect(struct loadgen *g, struct conn *c, const struct sockaddr_in *addr) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0)
    return fail("socket");
  g->open_count++;
  c->state = CONN_CONNECTING;
  c->events = EPOLLOUT;
  if (connect(c->fd, (const struct sockaddr *)addr, sizeof *addr) < 0 && errno != EINPROGRESS)
    return fail("connect");
  if (watch(g, EPOLL_CTL_ADD, c->fd, (uint64_t)c->id, EPOLLOUT) < 0)
    return fail("epoll_ctl");
  return 0;
}

/* The connect completed (EPOLLOUT): checks its outcome and sets the connection up for use. */
static int finish_connect(struct loadgen *g, struct conn *c) {
  int err = 0, one = 1;
  socklen_t len = sizeof err;
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    return fail("getsockopt");
  if (err) {
    errno = err;
    return fail("connect");
  }
  if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
    return fail("TCP_NODELAY");
  c->state = CONN_OPEN;
  if (g->opt.mode == MODE_IDLE) /* idle connections are only held, never polled */
    return epoll_ctl(g->epfd, EPOLL_CTL_DEL, c->fd, NULL) < 0 ? fail("epoll_ctl") : 0;
  set_interest(g, c, EPOLLIN);
  return 0;
}

/* Waits for connect completions; returns how many completed, or -1 on failure or signal. */
static int collect_connects(struct loadgen *g, uint64_t deadline) {
  struct epoll_event events[MAX_EVENTS];
  int n = epoll_wait(g->epfd, events, MAX_EVENTS, timeout_ms(deadline));
  if (n < 0)
    return errno == EINTR ? 0 : fail("epoll_wait");
  int done = 0;
  for (int i = 0; i < n; i++) {
    if (events[i].data.u64 == TOKEN_SIGNAL) {
      fprintf(stderr, "loadgen: interrupted while connecting\n");
      return -1;
    }
    struct conn *c = &g->conns[events[i].data.u64];
    if (c->state != CONN_CONNECTING)
      continue;
    if (finish_connect(g, c) < 0)
      return -1;
    done++;
  }
  return done;
}

static int connect_all(struct loadgen *g, const struct sockaddr_in *addr) {
  uint64_t deadline = now_ns() + (uint64_t)CONNECT_TIMEOUT_S * 1000000000u;
  int started = 0, connected = 0;
  while (connected < g->opt.connections) {
    for (; started < g->opt.connections && started - connected < CONNECT_PARALLEL; started++)
      if (start_connect(g, &g->conns[started], addr) < 0)
        return -1;
    if (now_ns() >= deadline) {
      fprintf(stderr, "loadgen: only %d of %d connections established after %d s\n", connected,
              g->opt.connections, CONNECT_TIMEOUT_S);
      return -1;
    }
    int done = collect_connects(g, deadline);
    if (done < 0)
      return -1;
    connected += done;
  }
  return 0;
}

/* ---- the run ------------------------------------------------------------------------------ */

static void dispatch(struct loadgen *g, const struct epoll_event *ev) {
  if (ev->data.u64 == TOKEN_SIGNAL) {
    g->interrupted = true;
    return;
  }
  struct conn *c = &g->conns[ev->data.u64];
  if (c->state == CONN_OPEN)
    on_conn_event(g, c, ev->events);
}

static int run_traffic(struct loadgen *g) {
  struct epoll_event events[MAX_EVENTS];
  uint64_t start = now_ns();
  uint64_t deadline = start + (uint64_t)(g->opt.duration * 1e9);
  for (int i = 0; i < g->opt.connections; i++) {
    if (g->opt.mode == MODE_PINGPONG)
      begin_message(g, &g->conns[i]);
    else
      fill(g, &g->conns[i]);
  }
  while (now_ns() < deadline && g->open_count > 0 && !g->interrupted) {
    int n = epoll_wait(g->epfd, events, MAX_EVENTS, timeout_ms(deadline));
    if (n < 0 && errno != EINTR)
      return fail("epoll_wait");
    for (int i = 0; i < n; i++)
      dispatch(g, &events[i]);
  }
  g->seconds = (double)(now_ns() - start) / 1e9;
  if (g->opt.mode == MODE_STREAM)
    g->messages = g->bytes / (uint64_t)g->opt.size;
  return 0;
}

static void report(const struct loadgen *g) {
  bool timed = g->opt.mode == MODE_PINGPONG;
  printf("messages=%llu bytes=%llu seconds=%.3f p50_us=%.1f p99_us=%.1f errors=%d\n",
         (unsigned long long)g->messages, (unsigned long long)g->bytes, g->seconds,
         timed ? percentile_us(&g->rtt, 0.50) : 0.0, timed ? percentile_us(&g->rtt, 0.99) : 0.0,
         g->errors);
  fflush(stdout);
}

/* Idle mode: holds the connections until stdin reaches end of file, a stop signal, or the
 * duration ends. A stdin epoll cannot watch (/dev/null, a regular file, as background jobs
 * get) cannot signal the end, so then only the signal or the duration does. */
static int hold_idle(struct loadgen *g) {
  printf("connected=%d\n", g->opt.connections);
  fflush(stdout);
  bool watch_stdin = watch(g, EPOLL_CTL_ADD, STDIN_FILENO, TOKEN_STDIN, EPOLLIN) == 0;
  uint64_t deadline = now_ns() + (uint64_t)(g->opt.duration * 1e9);
  struct epoll_event ev;
  while (now_ns() < deadline) {
    int n = epoll_wait(g->epfd, &ev, 1, timeout_ms(deadline));
    if (n < 0 && errno != EINTR)
      return fail("epoll_wait");
    if (n <= 0)
      continue;
    if (ev.data.u64 == TOKEN_SIGNAL)
      return 0;
    if (watch_stdin && read(STDIN_FILENO, g->buffer, CHUNK) <= 0)
      return 0; /* end of file (or a broken stdin): the caller is done measuring */
  }
  return 0;
}

/* ---- set-up ------------------------------------------------------------------------------- */

static int parse_long(const char *text, const char *name, long min, long max, long *out) {
  return parse_long_option("loadgen", text, name, min, max, out);
}

static int parse_seconds(const char *text, double *out) {
  return parse_seconds_option("loadgen", text, MAX_SECONDS, out);
}

static int parse_mode(const char *text, enum mode *out) {
  static const char *names[] = {"pingpong", "stream", "idle"};
  for (int m = MODE_PINGPONG; m <= MODE_IDLE; m++)
    if (strcmp(text, names[m]) == 0) {
      *out = (enum mode)m;
      return 0;
    }
  fprintf(stderr, "loadgen: --mode must be pingpong, stream or idle\n");
  return -1;
}

static int usage(void) {
  fprintf(stderr, "usage: loadgen --port N [--host 127.0.0.1] [--connections N (1-%d)]\n"
                  "               [--size BYTES (1-%d)] [--mode pingpong|stream|idle] [--idle]\n"
                  "               [--duration SECONDS (max %g; idle default %g, else 10)]\n"
                  "               [--window BYTES (stream: in flight per connection, 1-%ld)]\n",
          MAX_CONNECTIONS, MAX_SIZE, MAX_SECONDS, MAX_SECONDS, MAX_WINDOW);
  return -1;
}

static int parse_option(int key, const char *arg, struct options *o) {
  long value = 0;
  switch (key) {
  case 'p':
    if (parse_long(arg, "port", 1, 65535, &value) < 0)
      return -1;
    o->port = (int)value;
    return 0;
  case 'c':
    if (parse_long(arg, "connections", 1, MAX_CONNECTIONS, &value) < 0)
      return -1;
    o->connections = (int)value;
    return 0;
  case 's': return parse_long(arg, "size", 1, MAX_SIZE, &o->size);
  case 'm': return parse_mode(arg, &o->mode);
  case 'd': return parse_seconds(arg, &o->duration);
  case 'w': return parse_long(arg, "window", 1, MAX_WINDOW, &o->window);
  case 'h': o->host = arg; return 0;
  case 'i': o->mode = MODE_IDLE; return 0;
  default: return usage();
  }
}

static int parse_options(int argc, char **argv, struct options *o) {
  static const struct option longs[] = {
      {"port", required_argument, 0, 'p'},     {"connections", required_argument, 0, 'c'},
      {"size", required_argument, 0, 's'},     {"mode", required_argument, 0, 'm'},
      {"duration", required_argument, 0, 'd'}, {"host", required_argument, 0, 'h'},
      {"idle", no_argument, 0, 'i'},           {"window", required_argument, 0, 'w'},
      {0, 0, 0, 0}};
  *o = (struct options){
      .host = "127.0.0.1", .connections = 1, .size = 64, .window = STREAM_WINDOW, .duration = -1};
  int key;
  while ((key = getopt_long(argc, argv, "", longs, NULL)) != -1)
    if (parse_option(key, optarg, o) < 0)
      return -1;
  if (optind != argc || o->port == 0)
    return usage();
  if (o->duration < 0)
    o->duration = o->mode == MODE_IDLE ? MAX_SECONDS : 10;
  return 0;
}

/* Each connection needs a descriptor: raise the soft limit to the hard one if that is short. */
static int ensure_descriptors(int connections) {
  struct rlimit lim;
  rlim_t needed = (rlim_t)connections + 16;
  if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
    return fail("getrlimit");
  if (lim.rlim_cur >= needed)
    return 0;
  lim.rlim_cur = lim.rlim_max < needed ? lim.rlim_max : needed;
  if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
    return fail("setrlimit");
  if (lim.rlim_cur < needed) {
    fprintf(stderr, "loadgen: %d connections need %lu descriptors, the hard limit is %lu\n",
            connections, (unsigned long)needed, (unsigned long)lim.rlim_max);
    return -1;
  }
  return 0;
}

static int open_signals(struct loadgen *g) {
  if ((g->sigfd = open_stop_signals()) < 0)
    return fail("SIGTERM/SIGINT descriptor");
  return watch(g, EPOLL_CTL_ADD, g->sigfd, TOKEN_SIGNAL, EPOLLIN) < 0 ? fail("epoll_ctl") : 0;
}

static int set_up(struct loadgen *g, struct sockaddr_in *addr) {
  *addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)g->opt.port)};
  if (inet_pton(AF_INET, g->opt.host, &addr->sin_addr) != 1) {
    fprintf(stderr, "loadgen: --host must be a numeric IPv4 address\n");
    return -1;
  }
  if (ensure_descriptors(g->opt.connections) < 0 || make_pattern(g) < 0)
    return -1;
  if (!(g->conns = calloc((size_t)g->opt.connections, sizeof *g->conns)))
    return fail("calloc");
  for (int i = 0; i < g->opt.connections; i++) {
    g->conns[i].id = i;
    g->conns[i].seed = (uint32_t)((uint64_t)i * 7919u % PATTERN_PERIOD); /* distinct per id */
  }
  if ((g->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
    return fail("epoll_create1");
  return open_signals(g);
}

int main(int argc, char **argv) {
  static struct loadgen g; /* static: the histogram and buffer stay off the stack */
  struct sockaddr_in addr;
  if (parse_options(argc, argv, &g.opt) < 0)
    return 2;
  if (set_up(&g, &addr) < 0 || connect_all(&g, &addr) < 0)
    return 1;
  if (g.opt.mode == MODE_IDLE)
    return hold_idle(&g) < 0 ? 1 : 0;
  if (run_traffic(&g) < 0)
    return 1;
  report(&g);
  return g.errors ? 1 : 0;
}
