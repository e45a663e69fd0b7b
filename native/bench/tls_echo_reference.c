/* tls_echo_reference: the yardstick MonaAot's TLS echo is benchmarked against.
 *
 *   tls_echo_reference PORT CERTIFICATE KEY   (PEM files; PORT 0 lets the kernel pick)
 *
 * echo_reference.c with OpenSSL 3 in between: one thread, level-triggered epoll, non-blocking
 * sockets, TCP_NODELAY, one 120 KiB read buffer shared by all connections, the same accept
 * batch, the same signal handling, "listening on <port>" (flushed) once listening.
 *
 * TLS goes through memory BIOs, not SSL_set_fd. MonaAot's engine does (docs/architecture.md,
 * "TLS engine"), and with memory BIOs the reference makes the system calls the plain
 * reference makes: one recv of up to 120 KiB per readiness, fed to OpenSSL, and one send of
 * what OpenSSL produced. A socket BIO would read each record in two recv calls (header, then
 * body; read-ahead is off by default), so the ratio would measure a BIO choice; this way it
 * measures MonaAot's overhead around the same OpenSSL work. The context is set up as
 * MonaAot's server context is (TlsContext.Unix.cs): TLS 1.2 minimum, released buffers when
 * idle, no renegotiation, no client certificate, OpenSSL's defaults for the rest (TLS 1.3, its
 * cipher and group order, two session tickets after each handshake).
 *
 * Back-pressure as in the plain reference: the ciphertext one read produces is handed to the
 * kernel; what it does not take stays in the connection's pending buffer and the output
 * memory BIO, and the connection stops reading (EPOLLOUT only) until both are written. So a
 * connection holds at most about one read's worth (120 KiB plus the records' overhead).
 *
 * A peer's close_notify, FIN, reset, or a failed handshake closes the connection (no reply).
 * SIGTERM or SIGINT ends it with exit code 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_signals.h"

enum {
  READ_SIZE = 120 * 1024, /* MonaAot's read size (NetContext.ReadBufferSize), as the plain one */
  MAX_EVENTS = 256,
  ACCEPT_BATCH = 256,
};

enum handle_kind { KIND_LISTENER, KIND_SIGNAL, KIND_CONNECTION };

struct handle {
  enum handle_kind kind;
  int fd;
};

struct connection {
  struct handle handle;
  SSL *ssl;
  BIO *in;            /* ciphertext from the peer, fed by recv */
  BIO *out;           /* ciphertext for the peer, drained to send */
  char *pending;      /* ciphertext taken from out but not yet written; allocated on first need */
  size_t pending_off;
  size_t pending_len;
};

struct server {
  int epfd;
  struct handle listener;
  struct handle signals;
  int spare_fd;
  int running;
  SSL_CTX *ctx;
  char buffer[READ_SIZE]; /* ciphertext read, then ciphertext to write */
  char plain[READ_SIZE];  /* plaintext between SSL_read and SSL_write */
};

static int fail(const char *what) {
  fprintf(stderr, "tls_echo_reference: %s: %s\n", what, strerror(errno));
  return -1;
}

static int fail_tls(const char *what) {
  fprintf(stderr, "tls_echo_reference: %s: ", what);
  ERR_print_errors_fp(stderr);
  fputc('\n', stderr);
  return -1;
}

static int watch(struct server *s, int op, struct handle *h, unsigned events) {
  struct epoll_event ev = {.events = events, .data.ptr = h};
  return epoll_ctl(s->epfd, op, h->fd, &ev);
}

static void close_connection(struct connection *c) {
  close(c->handle.fd);
  SSL_free(c->ssl); /* frees both BIOs too */
  free(c->pending);
  free(c);
  ERR_clear_error(); /* a failed session's errors must not be read as the next one's */
}

static ssize_t write_some(int fd, const char *bytes, size_t len) {
  ssize_t n = send(fd, bytes, len, MSG_NOSIGNAL);
  if (n >= 0)
    return n;
  return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
}

/* Writes the pending ciphertext, then what the output BIO holds, until the kernel takes no
 * more. Returns 1 when everything was written, 0 when some is left (kept in pending and the
 * BIO), -1 when the connection is dead. */
static int flush(struct server *s, struct connection *c) {
  for (;;) {
    if (c->pending_off == c->pending_len) {
      int got = BIO_read(c->out, s->buffer, READ_SIZE);
      if (got <= 0)
        return 1;
      c->pending_off = c->pending_len = 0;
      ssize_t sent = write_some(c->handle.fd, s->buffer, (size_t)got);
      if (sent < 0)
        return -1;
      if (sent < got) {
        if (!c->pending && !(c->pending = malloc(READ_SIZE)))
          return -1;
        c->pending_len = (size_t)(got - sent);
        memcpy(c->pending, s->buffer + sent, c->pending_len);
        return 0;
      }
    } else {
      ssize_t sent = write_some(c->handle.fd, c->pending + c->pending_off,
                                c->pending_len - c->pending_off);
      if (sent < 0)
        return -1;
      c->pending_off += (size_t)sent;
      if (c->pending_off < c->pending_len)
        return 0;
    }
  }
}

/* Decrypts what the input BIO holds and encrypts it back into the output BIO. Returns -1 when
 * the connection is to close (close_notify, a failure), 0 otherwise. */
static int echo(struct server *s, struct connection *c) {
  if (!SSL_is_init_finished(c->ssl)) {
    int done = SSL_do_handshake(c->ssl);
    if (done <= 0)
      return SSL_get_error(c->ssl, done) == SSL_ERROR_WANT_READ ? 0 : -1;
  }
  for (;;) {
    int got = SSL_read(c->ssl, s->plain, READ_SIZE);
    if (got <= 0)
      return SSL_get_error(c->ssl, got) == SSL_ERROR_WANT_READ ? 0 : -1;
    if (SSL_write(c->ssl, s->plain, got) != got) /* a memory BIO takes it all */
      return -1;
  }
}

static void on_readable(struct server *s, struct connection *c) {
  ssize_t got = recv(c->handle.fd, s->buffer, READ_SIZE, 0);
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return;
  if (got <= 0 || BIO_write(c->in, s->buffer, (int)got) != got) {
    close_connection(c);
    return;
  }
  int ended = echo(s, c);
  int flushed = flush(s, c); /* a failed handshake's alert goes out too */
  if (ended < 0 || flushed < 0 || (flushed == 0 && watch(s, EPOLL_CTL_MOD, &c->handle, EPOLLOUT) < 0))
    close_connection(c);
}

static void on_writable(struct server *s, struct connection *c) {
  int flushed = flush(s, c);
  if (flushed < 0 || (flushed == 1 && watch(s, EPOLL_CTL_MOD, &c->handle, EPOLLIN) < 0))
    close_connection(c);
}

static void on_connection_event(struct server *s, struct connection *c) {
  if (c->pending_off < c->pending_len || BIO_ctrl_pending(c->out) > 0)
    on_writable(s, c);
  else
    on_readable(s, c);
}

static void add_connection(struct server *s, int fd) {
  int one = 1;
  struct connection *c = calloc(1, sizeof *c);
  if (!c || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
    goto fail;
  c->handle.kind = KIND_CONNECTION;
  c->handle.fd = fd;
  if (!(c->ssl = SSL_new(s->ctx)) || !(c->in = BIO_new(BIO_s_mem())) ||
      !(c->out = BIO_new(BIO_s_mem())))
    goto fail;
  SSL_set_bio(c->ssl, c->in, c->out); /* the SSL owns them from here */
  SSL_set_accept_state(c->ssl);
  if (watch(s, EPOLL_CTL_ADD, &c->handle, EPOLLIN) < 0) {
    close_connection(c);
    return;
  }
  return;
fail:
  if (c) {
    if (c->ssl) {
      SSL_free(c->ssl);
    } else {
      BIO_free(c->in);
      BIO_free(c->out);
    }
  }
  free(c);
  close(fd);
}

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
      fprintf(stderr, "tls_echo_reference: out of file descriptors, connection dropped\n");
      drop_one_connection(s);
    } else if (errno != EINTR && errno != ECONNABORTED) {
      return;
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

static int open_signals(struct server *s) {
  int fd = open_stop_signals();
  if (fd < 0)
    return fail("SIGTERM/SIGINT descriptor");
  s->signals = (struct handle){.kind = KIND_SIGNAL, .fd = fd};
  if (watch(s, EPOLL_CTL_ADD, &s->signals, EPOLLIN) < 0)
    return fail("epoll_ctl");
  return 0;
}

/* The server context, as MonaAot's (see the top of this file). */
static int open_context(struct server *s, const char *certificate, const char *key) {
  static const unsigned char id[] = "monaaot";
  if (!(s->ctx = SSL_CTX_new(TLS_server_method())))
    return fail_tls("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(s->ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(s->ctx, SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(s->ctx, certificate) != 1)
    return fail_tls(certificate);
  if (SSL_CTX_use_PrivateKey_file(s->ctx, key, SSL_FILETYPE_PEM) != 1)
    return fail_tls(key);
  if (SSL_CTX_check_private_key(s->ctx) != 1)
    return fail_tls("the key does not match the certificate");
  SSL_CTX_set_verify(s->ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_session_id_context(s->ctx, id, sizeof id - 1);
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
        s->running = 0;
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
  static struct server s; /* static: the buffers stay off the stack */
  unsigned short port;
  if (argc != 4 || parse_port(argv[1], &port) < 0) {
    fprintf(stderr, "usage: tls_echo_reference PORT CERTIFICATE KEY   (PORT 0 picks a free port)\n");
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
  if (open_context(&s, argv[2], argv[3]) < 0 || open_signals(&s) < 0 ||
      open_listener(&s, port) < 0 || run(&s) < 0)
    return 1;
  return 0;
}
