/* udp_echo_reference: the yardstick MonaAot's UDP echo is benchmarked against.
 *
 *   udp_echo_reference PORT  (PORT 0 lets the kernel pick; the port is printed)
 *
 * A deliberately minimal, batched UDP echo: one thread, one non-blocking socket bound to
 * 127.0.0.1, level-triggered epoll. Each wake reads up to BATCH datagrams with one recvmmsg and
 * sends them back to their senders with sendmmsg, so a batching design in MonaAot is compared
 * with a batching reference, and the ratio MonaAot/reference measures MonaAot's overhead
 * (managed runtime, Lua calls, its reactor), not a difference in system calls.
 *
 * Every datagram is echoed whole: a receive slot holds the largest UDP payload there is. A
 * datagram the kernel does not take back (a full send buffer, which loopback does not
 * produce, or an error for that one destination) is dropped, as a UDP server does; the count
 * is printed on stderr at exit when it is not 0, so that a load generator's loss can be
 * traced to the server or not.
 *
 * Prints "listening on <port>" (flushed) once bound. SIGTERM or SIGINT ends it with exit code 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_signals.h"

enum {
  BATCH = 64,         /* datagrams per recvmmsg / sendmmsg */
  SLOT_SIZE = 65536,  /* > 65507, the largest UDP payload over IPv4: nothing is truncated */
  /* Slots 64 bytes further apart than a power of two, so that the starts of the 64 slots (where
   * small datagrams land) fall into different cache sets instead of all into one. */
  SLOT_STRIDE = SLOT_SIZE + 64,
  TOKEN_SOCKET = 1,
  TOKEN_SIGNAL = 2,
};

struct server {
  int epfd;
  int sockfd;
  int sigfd;
  int running;
  unsigned long long echoed;
  unsigned long long dropped;
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  struct sockaddr_in peers[BATCH]; /* recvmmsg writes each sender here; sendmmsg sends there */
  char *slots;                     /* BATCH * SLOT_STRIDE bytes */
};

static int fail(const char *what) {
  fprintf(stderr, "udp_echo_reference: %s: %s\n", what, strerror(errno));
  return -1;
}

static int watch(struct server *s, int fd, unsigned long long token) {
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = token};
  return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Points message i at its slot and its sender address. The lengths are reset before every
 * recvmmsg, because echo_batch shortens each iovec to the datagram's length for sending. */
static void prepare_receive(struct server *s, int count) {
  for (int i = 0; i < count; i++) {
    s->iovs[i] = (struct iovec){.iov_base = s->slots + (size_t)i * SLOT_STRIDE,
                                .iov_len = SLOT_SIZE};
    s->msgs[i].msg_hdr = (struct msghdr){.msg_name = &s->peers[i],
                                         .msg_namelen = sizeof s->peers[i],
                                         .msg_iov = &s->iovs[i],
                                         .msg_iovlen = 1};
  }
}

/* Sends datagrams [0, count) back to their senders. sendmmsg stops at the first datagram that
 * fails: a full buffer drops the rest of the batch (waiting would only delay the next reads),
 * any other error drops that one datagram. Every pass consumes at least one datagram. */
static void echo_batch(struct server *s, int count) {
  for (int i = 0; i < count; i++)
    s->iovs[i].iov_len = s->msgs[i].msg_len;
  int done = 0;
  while (done < count) {
    int n = sendmmsg(s->sockfd, s->msgs + done, (unsigned)(count - done), 0);
    if (n > 0) {
      done += n;
      s->echoed += (unsigned)n;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      s->dropped += (unsigned)(count - done);
      return;
    } else {
      s->dropped++;
      done++;
    }
  }
}

static void on_readable(struct server *s) {
  prepare_receive(s, BATCH);
  int n = recvmmsg(s->sockfd, s->msgs, BATCH, 0, NULL);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      fail("recvmmsg"); /* reported, not fatal: the next datagram is served as usual */
    return;
  }
  echo_batch(s, n);
}

static int open_socket(struct server *s, unsigned short port) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  socklen_t len = sizeof addr;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s->sockfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->sockfd < 0)
    return fail("socket");
  if (bind(s->sockfd, (struct sockaddr *)&addr, sizeof addr) < 0)
    return fail("bind");
  if (getsockname(s->sockfd, (struct sockaddr *)&addr, &len) < 0)
    return fail("getsockname");
  if (watch(s, s->sockfd, TOKEN_SOCKET) < 0)
    return fail("epoll_ctl");
  printf("listening on %u\n", ntohs(addr.sin_port));
  fflush(stdout);
  return 0;
}

/* SIGTERM and SIGINT arrive as a readable descriptor, so stopping needs no handler and no
 * race between a flag and epoll_wait. */
static int open_signals(struct server *s) {
  if ((s->sigfd = open_stop_signals()) < 0)
    return fail("SIGTERM/SIGINT descriptor");
  return watch(s, s->sigfd, TOKEN_SIGNAL) < 0 ? fail("epoll_ctl") : 0;
}

static int run(struct server *s) {
  struct epoll_event events[2];
  while (s->running) {
    int n = epoll_wait(s->epfd, events, 2, -1);
    if (n < 0 && errno != EINTR)
      return fail("epoll_wait");
    for (int i = 0; i < n; i++) {
      if (events[i].data.u64 == TOKEN_SOCKET)
        on_readable(s);
      else
        s->running = 0; /* a stop signal; the loop ends after this batch */
    }
  }
  if (s->dropped)
    fprintf(stderr, "udp_echo_reference: echoed=%llu dropped=%llu\n", s->echoed, s->dropped);
  return 0;
}

static int parse_port(const char *text, unsigned short *port) {
  char *end;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno || end == text || *end || value < 0 || value > 65535)
    return -1;
  *port = (unsigned short)value;
  return 0;
}

int main(int argc, char **argv) {
  static struct server s; /* static: the message arrays stay off the stack */
  unsigned short port;
  if (argc != 2 || parse_port(argv[1], &port) < 0) {
    fprintf(stderr, "usage: udp_echo_reference PORT   (0-65535, 0 picks a free port)\n");
    return 2;
  }
  s.running = 1;
  if (!(s.slots = malloc((size_t)BATCH * SLOT_STRIDE))) {
    fail("malloc");
    return 1;
  }
  if ((s.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
    fail("epoll_create1");
    return 1;
  }
  if (open_signals(&s) < 0 || open_socket(&s, port) < 0 || run(&s) < 0)
    return 1;
  return 0;
}
