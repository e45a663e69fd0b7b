/* slow_echo: a TCP echo server that reads at a capped rate: the slow backend of the relay
 * benchmark's memory figure (tests/bench/bench.py).
 *
 *   slow_echo PORT BYTES_PER_SECOND     (PORT 0 lets the kernel pick; the port is printed)
 *
 * All connections together read at most BYTES_PER_SECOND (a token bucket holding at most one
 * 64 KiB read), and each read is written back in full before the next (blocking writes: the
 * relay in front of it reads its echo as fast as it can). What a faster writer sends meanwhile
 * waits in the kernel, then in the writer: a relay that keeps reading from its client without
 * looking at what it queued for this backend holds the difference in its own memory.
 *
 * Listens on 127.0.0.1 only. Prints "listening on <port>" (flushed) once listening.
 * SIGTERM or SIGINT ends it with exit code 0; open connections are closed by the exit.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_signals.h"

enum { CHUNK = 64 * 1024, MAX_EVENTS = 64 };
#define TOKEN_LISTENER (-1)
#define TOKEN_SIGNAL (-2)

static char buffer[CHUNK];

static int fail(const char *what) {
  fprintf(stderr, "slow_echo: %s: %s\n", what, strerror(errno));
  return -1;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int watch(int epfd, int fd, int token) {
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(int64_t)token};
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* The bytes the bucket allows now: rate * time since start, less what was read, at most one
 * CHUNK (so an idle spell does not save up a burst). Sleeps until at least 1 KiB is allowed. */
static size_t allowance(uint64_t start, double rate, uint64_t *consumed) {
  for (;;) {
    double allowed = rate * (double)(now_ns() - start) / 1e9 - (double)*consumed;
    if (allowed > CHUNK) {
      *consumed += (uint64_t)(allowed - CHUNK); /* forget what was not used */
      allowed = CHUNK;
    }
    if (allowed >= 1024)
      return (size_t)allowed;
    struct timespec pause = {0, (long)((1024 - allowed) / rate * 1e9) + 1};
    nanosleep(&pause, NULL);
  }
}

/* One read of up to len bytes from fd, written back in full. Returns bytes read, 0 for an
 * ended connection (closed here), -1 for nothing to read. */
static ssize_t echo_once(int fd, size_t len) {
  ssize_t n = recv(fd, buffer, len, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return -1;
  if (n <= 0) {
    close(fd);
    return 0;
  }
  for (ssize_t off = 0; off < n;) {
    ssize_t w = send(fd, buffer + off, (size_t)(n - off), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      close(fd);
      return 0;
    }
    off += w;
  }
  return n;
}

static int open_listener(int *port) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
  socklen_t len = sizeof addr;
  int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 128) < 0 ||
      getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
    return fail("listen");
  *port = ntohs(addr.sin_port);
  return fd;
}

int main(int argc, char **argv) {
  char *end;
  int port = argc == 3 ? (int)strtol(argv[1], &end, 10) : -1;
  double rate = argc == 3 ? strtod(argv[2], &end) : 0;
  if (argc != 3 || port < 0 || port > 65535 || !(rate >= 1024)) {
    fprintf(stderr, "usage: slow_echo PORT BYTES_PER_SECOND (at least 1024)\n");
    return 2;
  }
  int sigfd = open_stop_signals(), epfd = epoll_create1(EPOLL_CLOEXEC);
  int listener = open_listener(&port);
  if (sigfd < 0 || epfd < 0 || listener < 0 || watch(epfd, listener, TOKEN_LISTENER) < 0 ||
      watch(epfd, sigfd, TOKEN_SIGNAL) < 0) {
    fail("set-up");
    return 1;
  }
  printf("listening on %d\n", port);
  fflush(stdout);
  uint64_t start = now_ns(), consumed = 0;
  for (;;) {
    struct epoll_event events[MAX_EVENTS];
    int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
    if (n < 0 && errno != EINTR) {
      fail("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      int token = (int)(int64_t)events[i].data.u64;
      if (token == TOKEN_SIGNAL)
        return 0;
      if (token == TOKEN_LISTENER) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC); /* blocking: writes wait */
        int one = 1;
        if (fd >= 0 && (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
                        watch(epfd, fd, fd) < 0))
          close(fd);
        continue;
      }
      ssize_t got = echo_once(token, allowance(start, rate, &consumed));
      if (got > 0)
        consumed += (uint64_t)got;
    }
  }
}
