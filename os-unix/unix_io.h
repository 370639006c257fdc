/* Promises for descriptor I/O on the Unix platform. Every descriptor must be
 * non-blocking (unix_set_nonblocking). Each call tries the operation at
 * once; if it would block, it waits for readiness on the platform's engine
 * and tries again. Every promise is cancelable: cancelling stops and frees
 * its watcher at once and rejects it with -LWT_ECANCELED.
 *
 * Values: byte counts and descriptors as LWT_INT; errors as -errno (the
 * LWT_E* numbers are Linux's). A read or recv of 0 bytes is end of file.
 * An operation that has to wait while the platform is not running is
 * rejected with -LWT_EINVAL. Buffers are borrowed until the promise settles.
 * send adds MSG_NOSIGNAL.
 *
 * A read or recv that comes back short marks the descriptor drained: the
 * next one waits for readiness before trying (see unix_io.c).
 */
#ifndef TESSERA_UNIX_IO_H
#define TESSERA_UNIX_IO_H

#include <stddef.h>
#include <sys/socket.h>

#include "lwt.h"

int unix_set_nonblocking(int fd);

/* Fulfilled (NULL) when fd is readable / writable. */
lwt_t *unix_wait_readable(int fd);
lwt_t *unix_wait_writable(int fd);

lwt_t *unix_read(int fd, void *buf, size_t len);
lwt_t *unix_write(int fd, const void *buf, size_t len);
lwt_t *unix_recv(int fd, void *buf, size_t len, int flags);
lwt_t *unix_send(int fd, const void *buf, size_t len, int flags);
/* Fulfilled with the new descriptor (non-blocking, close-on-exec), owned
 * by the caller. */
lwt_t *unix_accept(int listen_fd);
/* Fulfilled (NULL) once connected. */
lwt_t *unix_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);

/* Closes a descriptor that these promises may have waited on; the engine
 * forgets it first (see unix_engine.h), so always close such descriptors
 * here rather than with close(2). Returns 0 or -errno. */
int unix_close(int fd);

/* Number of watchers the I/O promises hold now (tests check it returns to
 * zero after cancellations). */
size_t unix_io_watch_count(void);

#endif
