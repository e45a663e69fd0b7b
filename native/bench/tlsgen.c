/* tlsgen: load generator for TLS echo servers (MonaAot's TLS benchmark, tests/bench/bench.py).
 *
 *   tlsgen --port N [--host 127.0.0.1] [--connections N] [--size BYTES]
 *          [--mode stream|churn] [--duration SECONDS] [--window BYTES]
 *
 * stream  N connections are opened and their handshakes completed, then each writes SIZE-byte
 *         SSL_writes continuously, at most WINDOW bytes (default 256 KiB) ahead of what came
 *         back, and reads the echo back (loadgen's stream mode over TLS).
 * churn   N connections at a time, each in a loop: connect, full handshake, one SIZE-byte
 *         message echoed, close_notify, close, and again. A completed loop is a handshake.
 *
 * The client offers no session, ever (its session cache is off and no session is set on a
 * new connection), so every handshake is a full one whatever the server issues (a server
 * sends session tickets by default; they are read and dropped). Resumption is therefore off
 * for any server; a resumed session would be an error. The server's certificate is not
 * verified (SSL_VERIFY_NONE): the chain check costs the client only, which shares the core
 * with the server, and the same client runs against both servers; TLS 1.3's CertificateVerify
 * signature is still checked. TLS 1.3 with OpenSSL's defaults (X25519, AES-256-GCM first).
 *
 * Every echoed byte is checked against what was sent (the byte pattern of bench_util.h); a
 * mismatch is reported on stderr with exit code 2. After the duration one line on stdout:
 *
 *   messages=N bytes=N seconds=F p50_us=F p99_us=F errors=N handshakes=N
 *
 * stream: messages = bytes / SIZE, handshakes = N, percentiles 0. churn: messages =
 * handshakes = loops completed, p50/p99 the time of a loop (connect to echo). errors counts
 * connections lost or handshakes failed; any makes the exit code 1.
 * One thread, level-triggered epoll, non-blocking sockets, SSL over the socket (read-ahead on).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
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
  CHUNK = 64 * 1024,
  STREAM_WINDOW = 256 * 1024,
  PATTERN_PERIOD = 65521,
  MAX_CONNECTIONS = 10000,
  MAX_SIZE = 16 * 1024 * 1024,
  MAX_EVENTS = 512,
  SETUP_TIMEOUT_S = 30,
  ERRORS_PRINTED = 5,
};
#define MAX_SECONDS 600.0
#define MAX_WINDOW (1L << 30)
#define TOKEN_SIGNAL UINT64_MAX

enum mode { MODE_STREAM, MODE_CHURN };
enum conn_state { CONN_NEW, CONN_CONNECTING, CONN_HANDSHAKE, CONN_OPEN, CONN_CLOSED };

struct options {
  const char *host;
  int port;
  int connections;
  long size;
  enum mode mode;
  long window;
  double duration;
};

struct conn {
  int fd;
  int id;
  enum conn_state state;
  SSL *ssl;
  uint32_t events;
  bool want_write;   /* the last SSL_write asked for writability */
  uint32_t seed;     /* pattern offset of this connection's first byte */
  uint64_t sent;
  uint64_t received;
  uint64_t loops;    /* churn: loops this slot completed (varies the seed) */
  uint64_t start_ns; /* churn: when this loop's connect began */
};

struct tlsgen {
  struct options opt;
  struct sockaddr_in addr;
  struct conn *conns;
  SSL_CTX *ctx;
  int epfd;
  int sigfd;
  int open_count;
  int errors;
  bool interrupted;
  bool running; /* churn: false once the duration is over (no new loop starts) */
  uint64_t messages;
  uint64_t handshakes;
  uint64_t bytes;
  double seconds;
  unsigned char *pattern;
  unsigned char buffer[CHUNK];
  struct histogram rtt;
};

/* ---- helpers ------------------------------------------------------------------------------ */

static int fail(const char *what) {
  fprintf(stderr, "tlsgen: %s: %s\n", what, strerror(errno));
  return -1;
}

static int watch(struct tlsgen *g, int op, int fd, uint64_t token, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.u64 = token};
  return epoll_ctl(g->epfd, op, fd, &ev);
}

static void set_interest(struct tlsgen *g, struct conn *c, uint32_t events) {
  if (c->events == events)
    return;
  c->events = events;
  if (watch(g, EPOLL_CTL_MOD, c->fd, (uint64_t)c->id, events) < 0)
    fail("epoll_ctl");
}

static const unsigned char *pattern_at(const struct tlsgen *g, const struct conn *c, uint64_t pos) {
  return g->pattern + (pos + c->seed) % PATTERN_PERIOD;
}

static void verify(struct tlsgen *g, struct conn *c, size_t len) {
  const unsigned char *expected = pattern_at(g, c, c->received);
  if (c->received + len > c->sent) {
    fprintf(stderr, "tlsgen: connection %d: %llu bytes echoed, only %llu sent\n", c->id,
            (unsigned long long)(c->received + len), (unsigned long long)c->sent);
    exit(2);
  }
  if (memcmp(g->buffer, expected, len) == 0)
    return;
  size_t i = 0;
  while (g->buffer[i] == expected[i])
    i++;
  fprintf(stderr, "tlsgen: connection %d: echoed byte %llu is 0x%02x, expected 0x%02x\n", c->id,
          (unsigned long long)(c->received + i), g->buffer[i], expected[i]);
  exit(2);
}

/* ---- connections -------------------------------------------------------------------------- */

static void close_conn(struct tlsgen *g, struct conn *c) {
  if (c->ssl)
    SSL_free(c->ssl);
  c->ssl = NULL;
  close(c->fd);
  c->state = CONN_CLOSED;
  g->open_count--;
  ERR_clear_error();
}

static void lose_conn(struct tlsgen *g, struct conn *c, const char *why) {
  if (g->errors++ < ERRORS_PRINTED) {
    fprintf(stderr, "tlsgen: connection %d lost after %llu bytes echoed: %s\n", c->id,
            (unsigned long long)c->received, why);
    ERR_print_errors_fp(stderr);
  }
  close_conn(g, c);
}

/* Why an SSL call failed, for lose_conn. */
static const char *ssl_failure(struct conn *c, int result) {
  switch (SSL_get_error(c->ssl, result)) {
  case SSL_ERROR_ZERO_RETURN: return "close_notify from the server";
  case SSL_ERROR_SYSCALL: return errno ? strerror(errno) : "closed by the server";
  case SSL_ERROR_SSL: return "TLS error";
  default: return "unexpected TLS state";
  }
}

static int start_connect(struct tlsgen *g, struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0)
    return fail("socket");
  g->open_count++;
  c->state = CONN_CONNECTING;
  c->events = EPOLLOUT;
  c->want_write = false;
  c->sent = c->received = 0;
  c->start_ns = now_ns();
  if (g->opt.mode == MODE_CHURN)
    c->seed = (uint32_t)(((uint64_t)c->id * 7919u + c->loops * 104729u) % PATTERN_PERIOD);
  if (connect(c->fd, (const struct sockaddr *)&g->addr, sizeof g->addr) < 0 && errno != EINPROGRESS)
    return fail("connect");
  if (watch(g, EPOLL_CTL_ADD, c->fd, (uint64_t)c->id, EPOLLOUT) < 0)
    return fail("epoll_ctl");
  return 0;
}

/* Writes until the limit, or until OpenSSL asks to wait for writability. */
static void fill(struct tlsgen *g, struct conn *c) {
  uint64_t limit = g->opt.mode == MODE_CHURN ? (uint64_t)g->opt.size : c->received + (uint64_t)g->opt.window;
  c->want_write = false;
  while (c->sent < limit) {
    uint64_t left = limit - c->sent;
    int len = left < (uint64_t)g->opt.size ? (int)left : (int)g->opt.size;
    if (len > CHUNK)
      len = CHUNK;
    /* After a WANT_WRITE the retry has the same length and the same bytes at the same
     * address (the pattern at the same position), as OpenSSL requires. */
    int n = SSL_write(c->ssl, pattern_at(g, c, c->sent), len);
    if (n <= 0) {
      int why = SSL_get_error(c->ssl, n);
      if (why == SSL_ERROR_WANT_WRITE) {
        c->want_write = true;
        break;
      }
      if (why == SSL_ERROR_WANT_READ)
        break;
      lose_conn(g, c, ssl_failure(c, n));
      return;
    }
    c->sent += (uint64_t)n;
  }
  set_interest(g, c, EPOLLIN | (c->want_write ? EPOLLOUT : 0u));
}

/* The handshake went on; returns true once it completed (the connection is then open). */
static bool handshake(struct tlsgen *g, struct conn *c) {
  int done = SSL_do_handshake(c->ssl);
  if (done == 1) {
    if (SSL_session_reused(c->ssl)) {
      fprintf(stderr, "tlsgen: connection %d resumed a session: not a full handshake\n", c->id);
      exit(2);
    }
    c->state = CONN_OPEN;
    return true;
  }
  int why = SSL_get_error(c->ssl, done);
  if (why == SSL_ERROR_WANT_READ)
    set_interest(g, c, EPOLLIN);
  else if (why == SSL_ERROR_WANT_WRITE)
    set_interest(g, c, EPOLLOUT);
  else
    lose_conn(g, c, "TLS handshake failed");
  return false;
}

static int finish_connect(struct tlsgen *g, struct conn *c) {
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
  if (!(c->ssl = SSL_new(g->ctx)) || SSL_set_fd(c->ssl, c->fd) != 1) {
    fprintf(stderr, "tlsgen: SSL_new failed\n");
    return -1;
  }
  SSL_set_connect_state(c->ssl);
  c->state = CONN_HANDSHAKE;
  return 0;
}

/* churn: the loop's message came back: count it, close cleanly, start the next loop. */
static void end_loop(struct tlsgen *g, struct conn *c) {
  record(&g->rtt, now_ns() - c->start_ns);
  g->handshakes++;
  g->messages++;
  c->loops++;
  SSL_shutdown(c->ssl); /* queues and sends close_notify; the server's reply is not awaited */
  close_conn(g, c);
  if (g->running && start_connect(g, c) < 0)
    lose_conn(g, c, "cannot reconnect");
}

static void on_readable(struct tlsgen *g, struct conn *c) {
  for (;;) {
    int n = SSL_read(c->ssl, g->buffer, CHUNK);
    if (n <= 0) {
      int why = SSL_get_error(c->ssl, n);
      if (why != SSL_ERROR_WANT_READ && why != SSL_ERROR_WANT_WRITE)
        lose_conn(g, c, ssl_failure(c, n));
      return;
    }
    verify(g, c, (size_t)n);
    c->received += (uint64_t)n;
    g->bytes += (uint64_t)n;
    if (g->opt.mode == MODE_CHURN && c->received == (uint64_t)g->opt.size) {
      end_loop(g, c);
      return;
    }
  }
}

static void on_event(struct tlsgen *g, struct conn *c, uint32_t events) {
  if (c->state == CONN_CONNECTING) {
    if (finish_connect(g, c) < 0) {
      lose_conn(g, c, "connect failed");
      return;
    }
  }
  if (c->state == CONN_HANDSHAKE) {
    if (!handshake(g, c))
      return;
    if (g->opt.mode == MODE_STREAM) { /* the run starts once all are open (open_all) */
      set_interest(g, c, EPOLLIN);
      return;
    }
    fill(g, c);
    if (c->state == CONN_OPEN)
      on_readable(g, c); /* the echo may be in what the handshake read ahead */
    return;
  }
  if (c->state != CONN_OPEN)
    return;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
    on_readable(g, c);
  /* stream: writing starts with the clock (run), not while open_all reads the tickets */
  if (c->state == CONN_OPEN && (c->want_write || (g->opt.mode == MODE_STREAM && g->running)))
    fill(g, c);
}

/* ---- the run ------------------------------------------------------------------------------ */

static int poll_once(struct tlsgen *g, uint64_t deadline) {
  struct epoll_event events[MAX_EVENTS];
  int n = epoll_wait(g->epfd, events, MAX_EVENTS, timeout_ms(deadline));
  if (n < 0)
    return errno == EINTR ? 0 : fail("epoll_wait");
  for (int i = 0; i < n; i++) {
    if (events[i].data.u64 == TOKEN_SIGNAL) {
      g->interrupted = true;
      continue;
    }
    struct conn *c = &g->conns[events[i].data.u64];
    if (c->state != CONN_CLOSED)
      on_event(g, c, events[i].events);
  }
  return 0;
}

/* stream: connects every connection and completes its handshake before the clock starts. */
static int open_all(struct tlsgen *g) {
  uint64_t deadline = now_ns() + (uint64_t)SETUP_TIMEOUT_S * 1000000000u;
  for (int i = 0; i < g->opt.connections; i++)
    if (start_connect(g, &g->conns[i]) < 0)
      return -1;
  for (;;) {
    int open = 0;
    for (int i = 0; i < g->opt.connections; i++)
      open += g->conns[i].state == CONN_OPEN;
    if (open == g->opt.connections)
      return 0;
    if (g->errors || g->interrupted || now_ns() >= deadline) {
      fprintf(stderr, "tlsgen: only %d of %d connections open after their handshake\n", open,
              g->opt.connections);
      return -1;
    }
    if (poll_once(g, deadline) < 0)
      return -1;
  }
}

static int run(struct tlsgen *g) {
  uint64_t start = now_ns();
  uint64_t deadline = start + (uint64_t)(g->opt.duration * 1e9);
  g->running = true;
  for (int i = 0; i < g->opt.connections; i++) {
    if (g->opt.mode == MODE_STREAM)
      fill(g, &g->conns[i]);
    else if (start_connect(g, &g->conns[i]) < 0)
      return -1;
  }
  while (now_ns() < deadline && g->open_count > 0 && !g->interrupted)
    if (poll_once(g, deadline) < 0)
      return -1;
  g->running = false;
  g->seconds = (double)(now_ns() - start) / 1e9;
  if (g->opt.mode == MODE_STREAM) {
    g->messages = g->bytes / (uint64_t)g->opt.size;
    g->handshakes = (uint64_t)g->opt.connections;
  }
  return 0;
}

static void report(const struct tlsgen *g) {
  bool timed = g->opt.mode == MODE_CHURN;
  printf("messages=%llu bytes=%llu seconds=%.3f p50_us=%.1f p99_us=%.1f errors=%d handshakes=%llu\n",
         (unsigned long long)g->messages, (unsigned long long)g->bytes, g->seconds,
         timed ? percentile_us(&g->rtt, 0.50) : 0.0, timed ? percentile_us(&g->rtt, 0.99) : 0.0,
         g->errors, (unsigned long long)g->handshakes);
  fflush(stdout);
}

/* ---- set-up ------------------------------------------------------------------------------- */

static int usage(void) {
  fprintf(stderr, "usage: tlsgen --port N [--host 127.0.0.1] [--connections N (1-%d)]\n"
                  "              [--size BYTES (1-%d)] [--mode stream|churn]\n"
                  "              [--duration SECONDS (max %g, default 10)]\n"
                  "              [--window BYTES (stream: in flight per connection, 1-%ld)]\n",
          MAX_CONNECTIONS, MAX_SIZE, MAX_SECONDS, MAX_WINDOW);
  return -1;
}

static int parse_option(int key, const char *arg, struct options *o) {
  long value = 0;
  switch (key) {
  case 'p':
    if (parse_long_option("tlsgen", arg, "port", 1, 65535, &value) < 0)
      return -1;
    o->port = (int)value;
    return 0;
  case 'c':
    if (parse_long_option("tlsgen", arg, "connections", 1, MAX_CONNECTIONS, &value) < 0)
      return -1;
    o->connections = (int)value;
    return 0;
  case 's': return parse_long_option("tlsgen", arg, "size", 1, MAX_SIZE, &o->size);
  case 'w': return parse_long_option("tlsgen", arg, "window", 1, MAX_WINDOW, &o->window);
  case 'd': return parse_seconds_option("tlsgen", arg, MAX_SECONDS, &o->duration);
  case 'h': o->host = arg; return 0;
  case 'm':
    if (strcmp(arg, "stream") == 0)
      o->mode = MODE_STREAM;
    else if (strcmp(arg, "churn") == 0)
      o->mode = MODE_CHURN;
    else {
      fprintf(stderr, "tlsgen: --mode must be stream or churn\n");
      return -1;
    }
    return 0;
  default: return usage();
  }
}

static int parse_options(int argc, char **argv, struct options *o) {
  static const struct option longs[] = {
      {"port", required_argument, 0, 'p'},     {"connections", required_argument, 0, 'c'},
      {"size", required_argument, 0, 's'},     {"mode", required_argument, 0, 'm'},
      {"duration", required_argument, 0, 'd'}, {"host", required_argument, 0, 'h'},
      {"window", required_argument, 0, 'w'},   {0, 0, 0, 0}};
  *o = (struct options){.host = "127.0.0.1", .connections = 1, .size = 16384,
                        .mode = MODE_STREAM, .window = STREAM_WINDOW, .duration = 10};
  int key;
  while ((key = getopt_long(argc, argv, "", longs, NULL)) != -1)
    if (parse_option(key, optarg, o) < 0)
      return -1;
  if (optind != argc || o->port == 0)
    return usage();
  return 0;
}

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
  return lim.rlim_cur < needed ? (fprintf(stderr, "tlsgen: too few descriptors\n"), -1) : 0;
}

static int open_signals(struct tlsgen *g) {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE); /* SSL writes over the socket: a reset peer must not kill us */
  if (sigprocmask(SIG_BLOCK, &pipe, NULL) < 0)
    return fail("sigprocmask");
  if ((g->sigfd = open_stop_signals()) < 0)
    return fail("SIGTERM/SIGINT descriptor");
  return watch(g, EPOLL_CTL_ADD, g->sigfd, TOKEN_SIGNAL, EPOLLIN) < 0 ? fail("epoll_ctl") : 0;
}

/* The client context: see the top of this file. */
static int open_context(struct tlsgen *g) {
  if (!(g->ctx = SSL_CTX_new(TLS_client_method()))) {
    ERR_print_errors_fp(stderr);
    return -1;
  }
  SSL_CTX_set_min_proto_version(g->ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(g->ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_session_cache_mode(g->ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_read_ahead(g->ctx, 1);
  return 0;
}

static int set_up(struct tlsgen *g) {
  g->addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)g->opt.port)};
  if (inet_pton(AF_INET, g->opt.host, &g->addr.sin_addr) != 1) {
    fprintf(stderr, "tlsgen: --host must be a numeric IPv4 address\n");
    return -1;
  }
  if (ensure_descriptors(g->opt.connections) < 0 || open_context(g) < 0)
    return -1;
  if (!(g->pattern = malloc(PATTERN_PERIOD + CHUNK)))
    return fail("malloc");
  fill_pattern(g->pattern, PATTERN_PERIOD, PATTERN_PERIOD + CHUNK);
  if (!(g->conns = calloc((size_t)g->opt.connections, sizeof *g->conns)))
    return fail("calloc");
  for (int i = 0; i < g->opt.connections; i++) {
    g->conns[i].id = i;
    g->conns[i].state = CONN_NEW;
    g->conns[i].seed = (uint32_t)((uint64_t)i * 7919u % PATTERN_PERIOD);
  }
  if ((g->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
    return fail("epoll_create1");
  return open_signals(g);
}

int main(int argc, char **argv) {
  static struct tlsgen g;
  if (parse_options(argc, argv, &g.opt) < 0)
    return 2;
  if (g.opt.mode == MODE_CHURN && g.opt.size > CHUNK) {
    fprintf(stderr, "tlsgen: churn messages are at most %d bytes\n", CHUNK);
    return 2;
  }
  if (set_up(&g) < 0)
    return 1;
  if (g.opt.mode == MODE_STREAM && open_all(&g) < 0)
    return 1;
  if (run(&g) < 0)
    return 1;
  report(&g);
  return g.errors ? 1 : 0;
}
