/* udpgen: load generator for UDP echo servers (MonaAot's echo benchmark).
 *
 *   udpgen --port N [--host 127.0.0.1] [--connections N] [--size BYTES]
 *          [--mode pingpong|stream] [--window W] [--timeout-ms MS] [--duration SECONDS]
 *
 * --connections N UDP sockets, each connected to the server (so each receives only the
 * server's datagrams), send datagrams of SIZE bytes that the server is expected to echo back.
 *
 * pingpong  each socket sends one datagram and waits for its echo, then sends the next; every
 *           round trip is timed.
 * stream    each socket keeps up to W (--window, default 64) datagrams in flight, sending and
 *           reading in batches of up to 64 (sendmmsg, recvmmsg).
 *
 * A datagram not echoed within --timeout-ms (default 500) is counted lost and frees its place in
 * the window, so a lost datagram never stalls a socket. On loopback a datagram is echoed within
 * microseconds or dropped, so the timeout only has to outlast the longest stall of a busy
 * machine (a late count above 0 says it did not). When the duration ends (or on SIGTERM or
 * SIGINT) sending stops and the echoes still due are awaited, at most one timeout more; what
 * has not come back then is lost too, so at the end sent = received + lost exactly. An echo
 * that arrives after its datagram was counted lost is counted as late (it stays lost).
 *
 * Every echo is verified. A datagram carries its sequence number and its socket's number in a
 * 12-byte header, then a deterministic byte pattern that depends on both. An echo of the wrong
 * size, of another socket, of a datagram never sent, with a wrong byte, or echoed twice is
 * described on stderr and ends the run with exit code 2. The run prints one line on stdout:
 *
 *   messages=N bytes=N seconds=F p50_us=F p99_us=F errors=N sent=N lost=N late=N
 *
 * messages counts echoes received in time (bytes: their size), seconds the time until the last
 * datagram was settled; p50/p99 are round trips, 0 in stream mode. errors counts sockets that
 * failed (ECONNREFUSED: nothing listens); any makes the exit code 1. Loss is a measurement, not
 * an error. One thread, level-triggered epoll, non-blocking sockets.
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
  HEADER = 12,                /* sequence number (8 bytes) and socket number (4), little endian */
  MAX_SIZE = 65507,           /* the largest UDP payload over IPv4 */
  PATTERN_PERIOD = 65521,     /* prime, and not a multiple of any datagram size */
  BATCH = 64,                 /* datagrams per sendmmsg / recvmmsg */
  RECV_BATCHES = 4,           /* recvmmsg calls per readiness, so that no socket starves others */
  MAX_SOCKETS = 1024,
  MAX_WINDOW = 4096,
  MAX_IN_FLIGHT = 65536,      /* sockets x window: bounds the memory of the rings */
  RING_WINDOWS = 16,          /* ring = 16 windows: see struct sock */
  MAX_TIMEOUT_MS = 10000,
  MAX_EVENTS = 256,
  ERRORS_PRINTED = 5,
};
#define MAX_SECONDS 600.0
#define SCAN_NS 5000000u /* how often in-flight datagrams are checked for the loss timeout */
#define TOKEN_SIGNAL UINT64_MAX

enum mode { MODE_PINGPONG, MODE_STREAM };
enum slot_state { SLOT_IN_FLIGHT = 1, SLOT_RECEIVED, SLOT_LOST };

struct options {
  const char *host;
  int port;
  int sockets;
  long size;
  enum mode mode;
  long window;
  long timeout_ms;
  double duration;
};

/* One sent datagram: when it left, and whether its echo came back or it was counted lost. */
struct slot {
  uint64_t sent_ns;
  enum slot_state state;
};

/* Sequence numbers [base, next_seq) are what the window spans: every datagram below base is
 * settled (received or lost), in_flight of those from base on are still due. The ring keeps
 * the state of the last ring_size datagrams (index seq & ring_mask), so that sending goes on
 * past a datagram awaiting its timeout until RING_WINDOWS windows have passed it, and so that a
 * late echo can still be told from a duplicate. */
struct sock {
  int fd;
  uint32_t id;
  bool open;
  uint32_t events;   /* epoll interest currently registered */
  uint64_t seed;     /* pattern offset of this socket's first payload byte */
  uint64_t next_seq; /* datagrams sent */
  uint64_t base;
  uint32_t in_flight;
  struct slot *ring;
};

struct udpgen {
  struct options opt;
  struct sock *socks;
  int epfd;
  int sigfd;
  int errors;
  int open_count;  /* sockets that have not failed */
  int signals;     /* stop signals received: the first stops sending, the second the wait */
  bool stopping;   /* sending has ended; the echoes still due are awaited */
  uint32_t ring_mask;
  uint64_t timeout_ns;
  uint64_t sent, received, lost, late, bytes;
  double seconds;
  unsigned char *pattern; /* PATTERN_PERIOD + MAX_SIZE bytes: any payload is contiguous */
  unsigned char *rx_buf;  /* BATCH receive slots of rx_stride bytes */
  size_t rx_stride;
  struct mmsghdr tx[BATCH];
  struct iovec tx_iov[BATCH][2]; /* the header, then the payload straight from the pattern */
  unsigned char tx_header[BATCH][HEADER];
  struct mmsghdr rx[BATCH];
  struct iovec rx_iov[BATCH];
  struct histogram rtt;
};

/* ---- small helpers ---------------------------------------------------------------------- */

static int fail(const char *what) {
  fprintf(stderr, "udpgen: %s: %s\n", what, strerror(errno));
  return -1;
}

static int watch(struct udpgen *g, int op, int fd, uint64_t token, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.u64 = token};
  return epoll_ctl(g->epfd, op, fd, &ev);
}

static void put_le(unsigned char *p, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; i++)
    p[i] = (unsigned char)(value >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; i++)
    value |= (uint64_t)p[i] << (8 * i);
  return value;
}

static struct slot *slot_of(const struct udpgen *g, const struct sock *c, uint64_t seq) {
  return &c->ring[seq & g->ring_mask];
}

/* The payload of datagram seq of socket c: as if each socket sent one continuous byte stream,
 * cut into datagrams, so that consecutive datagrams never carry the same bytes. */
static const unsigned char *payload_of(const struct udpgen *g, const struct sock *c,
                                       uint64_t seq) {
  uint64_t payload = (uint64_t)g->opt.size - HEADER;
  return g->pattern + (c->seed + seq * payload) % PATTERN_PERIOD;
}

/* ---- settling datagrams: received, lost, late ------------------------------------------- */

/* Moves base past the datagrams settled at the front of the window. */
static void advance_base(struct udpgen *g, struct sock *c) {
  while (c->base < c->next_seq && slot_of(g, c, c->base)->state != SLOT_IN_FLIGHT)
    c->base++;
}

static void mark_lost(struct udpgen *g, struct sock *c, struct slot *s) {
  s->state = SLOT_LOST;
  c->in_flight--;
  g->lost++;
}

/* Counts as lost every datagram of c due longer than the timeout (all when force). Datagrams
 * were sent in sequence order, so the overdue ones are the oldest: the walk stops at the first
 * one still in time. Returns whether any was counted. */
static bool expire(struct udpgen *g, struct sock *c, uint64_t now, bool force) {
  bool any = false;
  for (; c->base < c->next_seq; c->base++) {
    struct slot *s = slot_of(g, c, c->base);
    if (s->state != SLOT_IN_FLIGHT)
      continue;
    if (!force && now - s->sent_ns < g->timeout_ns)
      break;
    mark_lost(g, c, s);
    any = true;
  }
  return any;
}

static void close_sock(struct udpgen *g, struct sock *c, const char *why) {
  if (g->errors++ < ERRORS_PRINTED)
    fprintf(stderr, "udpgen: socket %u failed after %llu datagrams: %s\n", c->id,
            (unsigned long long)c->next_seq, why);
  expire(g, c, 0, true); /* its datagrams still due will never come back */
  close(c->fd);
  c->open = false;
  g->open_count--;
}

static _Noreturn void corrupt(const struct sock *c, uint64_t seq, const char *what) {
  fprintf(stderr, "udpgen: socket %u, datagram %llu: %s\n", c->id, (unsigned long long)seq, what);
  exit(2);
}

/* ---- sending ---------------------------------------------------------------------------- */

static void set_interest(struct udpgen *g, struct sock *c, uint32_t events) {
  if (c->events == events)
    return;
  c->events = events;
  if (watch(g, EPOLL_CTL_MOD, c->fd, c->id, events) < 0)
    fail("epoll_ctl");
}

/* How many datagrams c may send now: the window's room, the ring's room, one batch at most. */
static uint32_t sendable(const struct udpgen *g, const struct sock *c) {
  if (g->stopping || !c->open)
    return 0;
  uint64_t by_window = (uint64_t)g->opt.window - c->in_flight;
  uint64_t by_ring = (uint64_t)g->ring_mask + 1 - (c->next_seq - c->base);
  uint64_t n = by_window < by_ring ? by_window : by_ring;
  return n < BATCH ? (uint32_t)n : BATCH;
}

/* Message i of the next sendmmsg carries datagram seq: its own header, then its payload read
 * straight from the pattern (connected socket: no address). */
static void build_datagram(struct udpgen *g, const struct sock *c, uint64_t seq, int i) {
  put_le(g->tx_header[i], seq, 8);
  put_le(g->tx_header[i] + 8, c->id, 4);
  g->tx_iov[i][0] = (struct iovec){.iov_base = g->tx_header[i], .iov_len = HEADER};
  g->tx_iov[i][1] = (struct iovec){.iov_base = (void *)payload_of(g, c, seq),
                                   .iov_len = (size_t)g->opt.size - HEADER};
  g->tx[i].msg_hdr = (struct msghdr){.msg_iov = g->tx_iov[i], .msg_iovlen = 2};
}

/* Sends one batch; returns how many datagrams the kernel took (0: none now, its buffer is full),
 * -1 when the socket failed. */
static int send_batch(struct udpgen *g, struct sock *c, uint32_t count) {
  for (uint32_t i = 0; i < count; i++)
    build_datagram(g, c, c->next_seq + i, (int)i);
  uint64_t now = now_ns(); /* before the send: a round trip includes the sending */
  int n = sendmmsg(c->fd, g->tx, count, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return 0;
  if (n < 0) {
    close_sock(g, c, strerror(errno));
    return -1;
  }
  for (int i = 0; i < n; i++, c->next_seq++)
    *slot_of(g, c, c->next_seq) = (struct slot){.sent_ns = now, .state = SLOT_IN_FLIGHT};
  c->in_flight += (uint32_t)n;
  g->sent += (uint64_t)n;
  return n;
}

/* Sends while the window has room; waits for EPOLLOUT only when the kernel took less. Every
 * pass sends at least one datagram of a window that is bounded, or ends the loop. */
static void fill(struct udpgen *g, struct sock *c) {
  uint32_t count;
  bool blocked = false;
  while (!blocked && (count = sendable(g, c)) > 0) {
    int n = send_batch(g, c, count);
    if (n < 0)
      return;
    blocked = (uint32_t)n < count;
  }
  set_interest(g, c, EPOLLIN | (blocked ? EPOLLOUT : 0u));
}

/* ---- receiving -------------------------------------------------------------------------- */

/* Checks an echo byte for byte; returns its sequence number. One byte more than SIZE is read,
 * so that a longer datagram shows as one, not as a truncated match. */
static uint64_t verify(const struct udpgen *g, const struct sock *c, const unsigned char *data,
                       size_t len, int flags) {
  uint64_t seq = get_le(data, 8);
  if (len != (size_t)g->opt.size || (flags & MSG_TRUNC)) {
    fprintf(stderr, "udpgen: socket %u: an echo of %zu bytes, %ld expected\n", c->id, len,
            g->opt.size);
    exit(2);
  }
  if (get_le(data + 8, 4) != c->id)
    corrupt(c, seq, "echo carries another socket's number");
  if (seq >= c->next_seq)
    corrupt(c, seq, "echo of a datagram never sent");
  const unsigned char *expected = payload_of(g, c, seq);
  size_t payload = len - HEADER;
  if (memcmp(data + HEADER, expected, payload) != 0) {
    size_t i = 0;
    while (i < payload && data[HEADER + i] == expected[i])
      i++;
    fprintf(stderr, "udpgen: socket %u, datagram %llu: byte %zu is 0x%02x, expected 0x%02x\n",
            c->id, (unsigned long long)seq, HEADER + i, data[HEADER + i], expected[i]);
    exit(2);
  }
  return seq;
}

/* Settles the datagram an echo belongs to. Older than the ring, an echo of a datagram counted
 * lost cannot be told from a duplicate any more; it is counted late. */
static void on_echo(struct udpgen *g, struct sock *c, uint64_t seq, uint64_t now) {
  struct slot *s = slot_of(g, c, seq);
  if (c->next_seq - seq > (uint64_t)g->ring_mask + 1 || s->state == SLOT_LOST) {
    g->late++;
    return;
  }
  if (s->state == SLOT_RECEIVED)
    corrupt(c, seq, "echoed twice");
  s->state = SLOT_RECEIVED;
  c->in_flight--;
  g->received++;
  g->bytes += (uint64_t)g->opt.size;
  if (g->opt.mode == MODE_PINGPONG)
    record(&g->rtt, now - s->sent_ns);
  advance_base(g, c);
}

/* Points the receive messages at their slots, once: recvmmsg only writes each message's
 * msg_len and msg_flags, which are outputs. */
static void prepare_receive(struct udpgen *g) {
  for (int i = 0; i < BATCH; i++) {
    g->rx_iov[i] = (struct iovec){.iov_base = g->rx_buf + (size_t)i * g->rx_stride,
                                  .iov_len = (size_t)g->opt.size + 1};
    g->rx[i].msg_hdr = (struct msghdr){.msg_iov = &g->rx_iov[i], .msg_iovlen = 1};
  }
}

/* Reads up to RECV_BATCHES batches of echoes, then refills the window they freed. */
static void on_readable(struct udpgen *g, struct sock *c) {
  for (int round = 0; round < RECV_BATCHES; round++) {
    int n = recvmmsg(c->fd, g->rx, BATCH, 0, NULL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      break;
    if (n < 0) {
      close_sock(g, c, strerror(errno)); /* ECONNREFUSED: the server's port is closed */
      return;
    }
    uint64_t now = now_ns();
    for (int i = 0; i < n; i++) {
      const unsigned char *data = g->rx_buf + (size_t)i * g->rx_stride;
      on_echo(g, c, verify(g, c, data, g->rx[i].msg_len, g->rx[i].msg_hdr.msg_flags), now);
    }
    if (n < BATCH)
      break;
  }
  fill(g, c);
}

/* ---- the run ---------------------------------------------------------------------------- */

/* A stop signal: the first ends sending, the second the wait for the echoes still due. The
 * signal is read so that the level-triggered descriptor does not stay ready. */
static void on_signal(struct udpgen *g) {
  struct signalfd_siginfo info;
  while (read(g->sigfd, &info, sizeof info) == (ssize_t)sizeof info)
    g->signals++;
}

static void dispatch(struct udpgen *g, const struct epoll_event *ev) {
  if (ev->data.u64 == TOKEN_SIGNAL) {
    on_signal(g);
    return;
  }
  struct sock *c = &g->socks[ev->data.u64];
  if (!c->open)
    return;
  if (ev->events & (EPOLLIN | EPOLLERR))
    on_readable(g, c); /* an error shows up as the recvmmsg's result */
  else if (ev->events & EPOLLOUT)
    fill(g, c);
}

/* Counts the overdue datagrams of every socket lost; a socket whose window got room sends. */
static void expire_all(struct udpgen *g, uint64_t now, bool force) {
  for (int i = 0; i < g->opt.sockets; i++) {
    struct sock *c = &g->socks[i];
    if (c->open && expire(g, c, now, force))
      fill(g, c);
  }
}

static bool all_settled(const struct udpgen *g) { return g->sent == g->received + g->lost; }

static int wait_events(struct udpgen *g, uint64_t until) {
  struct epoll_event events[MAX_EVENTS];
  int n = epoll_wait(g->epfd, events, MAX_EVENTS, timeout_ms(until));
  if (n < 0 && errno != EINTR)
    return fail("epoll_wait");
  for (int i = 0; i < n; i++)
    dispatch(g, &events[i]);
  return 0;
}

/* Sends until the deadline (or a signal, or until every socket failed), then awaits the echoes
 * still due for at most one timeout (plus a scan), and counts what is still missing as lost. */
static int run_traffic(struct udpgen *g) {
  uint64_t start = now_ns(), deadline = start + (uint64_t)(g->opt.duration * 1e9);
  uint64_t next_scan = start + SCAN_NS, settle_by = 0, now = start;
  for (int i = 0; i < g->opt.sockets; i++)
    fill(g, &g->socks[i]);
  for (;;) {
    if (!g->stopping && (now >= deadline || g->signals > 0 || g->open_count == 0)) {
      g->stopping = true;
      settle_by = now + g->timeout_ns + 2 * SCAN_NS;
    }
    if (g->stopping && (all_settled(g) || now >= settle_by || g->signals > 1))
      break;
    uint64_t until = g->stopping ? settle_by : deadline;
    if (wait_events(g, next_scan < until ? next_scan : until) < 0)
      return -1;
    if ((now = now_ns()) >= next_scan) {
      expire_all(g, now, false);
      next_scan = now + SCAN_NS;
    }
  }
  expire_all(g, now, true);
  g->seconds = (double)(now - start) / 1e9;
  return 0;
}

static void report(const struct udpgen *g) {
  bool timed = g->opt.mode == MODE_PINGPONG;
  printf("messages=%llu bytes=%llu seconds=%.3f p50_us=%.1f p99_us=%.1f errors=%d sent=%llu "
         "lost=%llu late=%llu\n",
         (unsigned long long)g->received, (unsigned long long)g->bytes, g->seconds,
         timed ? percentile_us(&g->rtt, 0.50) : 0.0, timed ? percentile_us(&g->rtt, 0.99) : 0.0,
         g->errors, (unsigned long long)g->sent, (unsigned long long)g->lost,
         (unsigned long long)g->late);
  fflush(stdout);
}

/* ---- options ---------------------------------------------------------------------------- */

static int parse_long(const char *text, const char *name, long min, long max, long *out) {
  return parse_long_option("udpgen", text, name, min, max, out);
}

static int parse_seconds(const char *text, double *out) {
  return parse_seconds_option("udpgen", text, MAX_SECONDS, out);
}

static int parse_mode(const char *text, enum mode *out) {
  if (strcmp(text, "pingpong") == 0 || strcmp(text, "stream") == 0) {
    *out = text[0] == 'p' ? MODE_PINGPONG : MODE_STREAM;
    return 0;
  }
  fprintf(stderr, "udpgen: --mode must be pingpong or stream\n");
  return -1;
}

static int usage(void) {
  fprintf(stderr,
          "usage: udpgen --port N [--host 127.0.0.1] [--connections SOCKETS (1-%d)]\n"
          "              [--size BYTES (%d-%d)] [--mode pingpong|stream]\n"
          "              [--window W (stream, 1-%d, default 64)]\n"
          "              [--timeout-ms MS (1-%d, default 500)]\n"
          "              [--duration SECONDS (max %g, default 10)]\n"
          "  sockets x window must be at most %d\n",
          MAX_SOCKETS, HEADER, MAX_SIZE, MAX_WINDOW, MAX_TIMEOUT_MS, MAX_SECONDS, MAX_IN_FLIGHT);
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
    if (parse_long(arg, "connections", 1, MAX_SOCKETS, &value) < 0)
      return -1;
    o->sockets = (int)value;
    return 0;
  case 's': return parse_long(arg, "size", HEADER, MAX_SIZE, &o->size);
  case 'm': return parse_mode(arg, &o->mode);
  case 'w': return parse_long(arg, "window", 1, MAX_WINDOW, &o->window);
  case 't': return parse_long(arg, "timeout-ms", 1, MAX_TIMEOUT_MS, &o->timeout_ms);
  case 'd': return parse_seconds(arg, &o->duration);
  case 'h': o->host = arg; return 0;
  default: return usage();
  }
}

static int parse_options(int argc, char **argv, struct options *o) {
  static const struct option longs[] = {
      {"port", required_argument, 0, 'p'},       {"connections", required_argument, 0, 'c'},
      {"size", required_argument, 0, 's'},       {"mode", required_argument, 0, 'm'},
      {"window", required_argument, 0, 'w'},     {"timeout-ms", required_argument, 0, 't'},
      {"duration", required_argument, 0, 'd'},   {"host", required_argument, 0, 'h'},
      {0, 0, 0, 0}};
  *o = (struct options){.host = "127.0.0.1", .sockets = 1, .size = 64, .window = 64,
                        .timeout_ms = 500, .duration = 10};
  int key;
  while ((key = getopt_long(argc, argv, "", longs, NULL)) != -1)
    if (parse_option(key, optarg, o) < 0)
      return -1;
  if (optind != argc || o->port == 0)
    return usage();
  if (o->mode == MODE_PINGPONG)
    o->window = 1; /* one datagram in flight is what ping-pong means */
  if ((long)o->sockets * o->window > MAX_IN_FLIGHT)
    return usage();
  return 0;
}

/* ---- set-up ----------------------------------------------------------------------------- */

/* The ring spans RING_WINDOWS windows, rounded up to a power of two for the index mask. */
static uint32_t ring_size(long window) {
  uint32_t size = 1;
  while (size < (uint64_t)window * RING_WINDOWS)
    size <<= 1;
  return size;
}

static int open_sock(struct udpgen *g, struct sock *c, const struct sockaddr_in *addr) {
  c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0)
    return fail("socket");
  if (connect(c->fd, (const struct sockaddr *)addr, sizeof *addr) < 0)
    return fail("connect");
  c->open = true;
  g->open_count++;
  c->events = EPOLLIN;
  if (!(c->ring = calloc(g->ring_mask + 1u, sizeof *c->ring)))
    return fail("calloc");
  return watch(g, EPOLL_CTL_ADD, c->fd, c->id, EPOLLIN) < 0 ? fail("epoll_ctl") : 0;
}

static int open_signals(struct udpgen *g) {
  if ((g->sigfd = open_stop_signals()) < 0)
    return fail("SIGTERM/SIGINT descriptor");
  return watch(g, EPOLL_CTL_ADD, g->sigfd, TOKEN_SIGNAL, EPOLLIN) < 0 ? fail("epoll_ctl") : 0;
}

static int allocate(struct udpgen *g) {
  g->rx_stride = ((size_t)g->opt.size + 1 + 63) & ~(size_t)63; /* cache-line aligned slots */
  g->pattern = malloc(PATTERN_PERIOD + MAX_SIZE);
  g->rx_buf = malloc(BATCH * g->rx_stride);
  g->socks = calloc((size_t)g->opt.sockets, sizeof *g->socks);
  if (!g->pattern || !g->rx_buf || !g->socks)
    return fail("malloc");
  fill_pattern(g->pattern, PATTERN_PERIOD, PATTERN_PERIOD + MAX_SIZE);
  prepare_receive(g);
  return 0;
}

static int set_up(struct udpgen *g) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g->opt.port)};
  if (inet_pton(AF_INET, g->opt.host, &addr.sin_addr) != 1) {
    fprintf(stderr, "udpgen: --host must be a numeric IPv4 address\n");
    return -1;
  }
  g->ring_mask = ring_size(g->opt.window) - 1;
  g->timeout_ns = (uint64_t)g->opt.timeout_ms * 1000000u;
  if (allocate(g) < 0 || (g->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 || open_signals(g) < 0)
    return -1;
  for (int i = 0; i < g->opt.sockets; i++) {
    struct sock *c = &g->socks[i];
    c->id = (uint32_t)i;
    c->seed = (uint64_t)i * 7919u % PATTERN_PERIOD; /* distinct per socket */
    if (open_sock(g, c, &addr) < 0)
      return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  static struct udpgen g; /* static: the histogram and message arrays stay off the stack */
  if (parse_options(argc, argv, &g.opt) < 0)
    return 2;
  if (set_up(&g) < 0 || run_traffic(&g) < 0)
    return 1;
  if (!all_settled(&g)) { /* cannot happen: expire_all(force) settles everything */
    fprintf(stderr, "udpgen: accounting error: sent %llu, received %llu, lost %llu\n",
            (unsigned long long)g.sent, (unsigned long long)g.received,
            (unsigned long long)g.lost);
    return 2;
  }
  report(&g);
  return g.errors ? 1 : 0;
}
