/* The Unix console: stdout and stderr behind a buffered write path that
 * does not stall the loop.
 *
 * unix_console_write copies the text into a bounded per-stream buffer
 * (UNIX_CONSOLE_BUFFER bytes) and writes what the descriptor accepts
 * without blocking; the rest goes out when the engine reports the
 * descriptor writable. Only when the buffer is full does a write wait for
 * the descriptor (output is never dropped). The descriptors' flags are left
 * alone: O_NONBLOCK on a terminal or pipe would be shared with other
 * processes and with stdio, so writes are made only after poll(2) says the
 * descriptor is writable, at most PIPE_BUF bytes at a time.
 *
 * Before unix_console_start (or after unix_console_stop) every write goes
 * straight out, blocking. Loop thread only.
 */
#ifndef TESSERA_UNIX_CONSOLE_H
#define TESSERA_UNIX_CONSOLE_H

#include <stddef.h>

#include "console.h"
#include "unix_engine.h"

enum {
    UNIX_CONSOLE_STDOUT = 1,
    UNIX_CONSOLE_STDERR = 2,
};

#define UNIX_CONSOLE_BUFFER (64 * 1024)

/* Called by the platform; the engine is borrowed until unix_console_stop,
 * which flushes (blocking) and stops watching. */
void unix_console_start(struct unix_engine *e);
void unix_console_stop(void);

/* stream: UNIX_CONSOLE_STDOUT or UNIX_CONSOLE_STDERR (else -LWT_EINVAL).
 * Returns 0, or -errno if the descriptor fails (the buffer is then
 * discarded). */
int unix_console_write(int stream, const char *text, size_t len);
/* Writes out everything buffered, blocking; 0 or the first -errno. */
int unix_console_flush(void);
/* Bytes buffered and not yet written. */
size_t unix_console_pending(int stream);

/* The console interfaces (static objects, never freed). */
struct console *unix_console_stdout(void);
struct console *unix_console_stderr(void);

#endif
