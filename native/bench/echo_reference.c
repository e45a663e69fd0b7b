/* echo_reference: the yardstick MonaAot's TCP echo is benchmarked against.
 *
 *   echo_reference PORT      (PORT 0 lets the kernel pick; the port is printed)
 *
 * A deliberately minimal echo server: one thread, level-triggered epoll, non-blocking sockets,
 * TCP_NODELAY, one 120 KiB read buffer shared by all connections. It is what a careful C
 * programmer writes in an afternoon, so the ratio MonaAot/reference measures MonaAot's overhead
 * (managed runtime, Lua calls, its reactor), not a difference in design.
 *
 * Bytes are never dropped or reordered: what the kernel does not take at once is kept in the
 * connection's pending buffer, and the connection stops reading (EPOLLOUT only) until that
 * buffer is written. This is the back-pressure every echo server needs, and it bounds the
 * memory per connection to one read (120 KiB).
 *
 * Listens on 127.0.0.1 only. Prints "listening on <port>" (flushed) once listening.
 * SIGTERM or SIGINT ends it with exit code 0; open connections are closed by the exit.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_signals.h"

enum {
  /* MonaAot's read size (NetContext.ReadBufferSize): with the same buffers, the comparison
   * measures the runtime, not a buffer choice. */
  READ_SIZE = 120 * 1024,
  MAX_EVENTS = 256,
  ACCEPT_BATCH = 256, /* accepts per readiness, so a connect storm cannot starve echoing */
};

enum handle_kind { KIND_LISTENER, KIND_SIGNAL, KIND_CONNECTION };

/* What epoll_event.data.ptr points to: every registered fd starts with this. */
struct handle {
  enum handle_kind kind;
  int fd;
};

struct connection {
  struct handle handle;
  char *pending;      /* bytes read but not yet written back; allocated on first need */
  size_t pending_off; /* first unwritten byte of pending */
  size_t pending_len; /* end of the unwritten bytes */
};

struct server {
  int epfd;
  struct handle listener;
  struct handle signals;
  int spare_fd; /* closed to accept-and-drop a connection when out of descriptors */
  int running;
  char buffer[READ_SIZE];
};

static int fail(const char *what) {
  fprintf(stderr, "echo_reference: %s: %s\n", what, strerror(errno));
  return -1;
}

static int watch(struct server *s, int op, struct handle *h, unsigned events) {
  struct epoll_event ev = {.events = events, .data.ptr = h};
  return epoll_ctl(s->epfd, op, h->fd, &ev);
}

static void close_connection(struct connection *c) {
  close(c->handle.fd); /* also removes it from the epoll set */
  free(c->pending);
  free(c);
}

/* Keeps bytes[0..len) for later; the connection then waits for writability instead of reading. */
static int keep_pending(struct server *s, struct connection *c, const char *bytes, size_t len) {
  if (!c->pending && !(c->pending = malloc(READ_SIZE)))
    return -1;
  memcpy(c->pending, bytes, len);
  c->pending_off = 0;
  c->pending_len = len;
  return watch(s, EPOLL_CTL_MOD, &c->handle, EPOLLOUT);
}

/* Writes as much as the kernel takes; returns the count, or -1 when the connection is dead. */
static ssize_t write_some(int fd, const char *bytes, size_t len) {
  ssize_t n = send(fd, bytes, len, MSG_NOSIGNAL);
  if (n >= 0)
    return n;
  return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
}

static void on_readable(struct server *s, struct connection *c) {
  ssize_t got = recv(c->handle.fd, s->buffer, READ_SIZE, 0);
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return;
  if (got <= 0) { /* peer closed, or reset */
    close_connection(c);
    return;
  }
  ssize_t sent = write_some(c->handle.fd, s->buffer, (size_t)got);
  if (sent < 0 || (sent < got && keep_pending(s, c, s->buffer + sent, (size_t)(got - sent)) < 0))
    close_connection(c);
}

static void on_writable(struct server *s, struct connection *c) {
  ssize_t sent = write_some(c->handle.fd, c->pending + c->pending_off,
                            c->pending_len - c->pending_off);
  if (sent < 0) {
    close_connection(c);
    return;
  }
  c->pending_off += (size_t)sent;
  if (c->pending_off == c->pending_len && watch(s, EPOLL_CTL_MOD, &c->handle, EPOLLIN) < 0)
    close_connection(c);
}

/* Any event (including EPOLLERR/EPOLLHUP) means "do what the state calls for": the read or the
 * write then reports the error itself and the connection is closed there. */
static void on_connection_event(struct server *s, struct connection *c) {
  if (c->pending_off < c->pending_len)
    on_writable(s, c);
  else
    on_readable(s, c);
}

static void add_connection(struct server *s, int fd) {
  int one = 1;
  struct connection *c = calloc(1, sizeof *c);
  if (!c || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
    free(c);
    close(fd);
    return;
  }
  c->handle.kind = KIND_CONNECTION;
  c->handle.fd = fd;
  if (watch(s, EPOLL_CTL_ADD, &c->handle, EPOLLIN) < 0)
    close_connection(c);
}

/* Out of descriptors: the pending connection would keep the level-triggered listener ready
 * forever, so accept it on the spare descriptor and close it at once. */
static void drop_one_connection(struct server *s) {
  close(s->spare_fd);
  int fd = accept(s->listener.fd, NULL, NULL);
  if (fd >= 0)
    close(fd);
  s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void on_acceptable(struct server *s) {
  for (int i = 0; i < ACCEPT_BATCH; i++) {
    int fd = accept4(s->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      add_connection(s, fd);
    } else if (errno == EMFILE || errno == ENFILE) {
      fprintf(stderr, "echo_reference: out of file descriptors, connection dropped\n");
      drop_one_connection(s);
    } else if (errno != EINTR && errno != ECONNABORTED) {
      return; /* EAGAIN: nothing left to accept */
    }
  }
}

static int open_listener(struct server *s, unsigned short port) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  socklen_t len = sizeof addr;
  int one = 1;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return fail("socket");
  s->listener = (struct handle){.kind = KIND_LISTENER, .fd = fd};
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
    return fail("SO_REUSEADDR");
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
    return fail("bind");
  if (listen(fd, SOMAXCONN) < 0)
    return fail("listen");
  if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
    return fail("getsockname");
  if (watch(s, EPOLL_CTL_ADD, &s->listener, EPOLLIN) < 0)
    return fail("epoll_ctl");
  printf("listening on %u\n", ntohs(addr.sin_port));
  fflush(stdout);
  return 0;
}

/* SIGTERM and SIGINT arrive as a readable descriptor, so stopping needs no handler and no
 * race between a flag and epoll_wait. */
static int open_signals(struct server *s) {
  int fd = open_stop_signals();
  if (fd < 0)
    return fail("SIGTERM/SIGINT descriptor");
  s->signals = (struct handle){.kind = KIND_SIGNAL, .fd = fd};
  if (watch(s, EPOLL_CTL_ADD, &s->signals, EPOLLIN) < 0)
    return fail("epoll_ctl");
  return 0;
}

static int run(struct server *s) {
  struct epoll_event events[MAX_EVENTS];
  while (s->running) {
    int n = epoll_wait(s->epfd, events, MAX_EVENTS, -1);
    if (n < 0 && errno != EINTR)
      return fail("epoll_wait");
    for (int i = 0; i < n; i++) {
      struct handle *h = events[i].data.ptr;
      if (h->kind == KIND_CONNECTION)
        on_connection_event(s, (struct connection *)h);
      else if (h->kind == KIND_LISTENER)
        on_acceptable(s);
      else
        s->running = 0; /* a stop signal; the loop ends after this batch */
    }
  }
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
  static struct server s; /* static: the 120 KiB buffer stays off the stack */
  unsigned short port;
  if (argc != 2 || parse_port(argv[1], &port) < 0) {
    fprintf(stderr, "usage: echo_reference PORT   (0-65535, 0 picks a free port)\n");
    return 2;
  }
  s.running = 1;
  if ((s.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
    fail("/dev/null");
    return 1;
  }
  if ((s.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
    fail("epoll_create1");
    return 1;
  }
  if (open_signals(&s) < 0 || open_listener(&s, port) < 0 || run(&s) < 0)
    return 1;
  return 0;
}
