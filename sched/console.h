/* The console device interface (DESIGN.md §4): where an application's text
 * output goes. Each platform provides one (stdout on Unix, the PV console
 * ring on Xen, a capture buffer in tests); apps see only this table.
 *
 * Declarations and inline helpers only: the portable layers include it.
 */
#ifndef TESSERA_CONSOLE_H
#define TESSERA_CONSOLE_H

#include <stddef.h>

struct console;

struct console_ops {
    /* Queues len bytes of text (borrowed for the call only) and returns 0,
     * or a negative LWT_E* code if the output is gone. Does not wait for
     * the device, except to make room when its buffer is full. */
    int (*write)(struct console *c, const char *text, size_t len);
    /* Waits until everything queued has been written: 0 or LWT_E*. */
    int (*flush)(struct console *c);
};

struct console {
    const struct console_ops *ops; /* ro */
};

static inline int console_write(struct console *c, const char *text, size_t len)
{
    return c->ops->write(c, text, len);
}

static inline int console_flush(struct console *c)
{
    return c->ops->flush(c);
}

#endif
