/* Logging (DESIGN.md §6): levels and per-source names, written to the
 * console the platform installs, cheap when a level is off. Every line also
 * goes to a small in-memory ring, the early-boot log, which a crash handler
 * can dump even when no console is up yet.
 *
 *     static struct log_source tcp_log = LOG_SOURCE("tcp");
 *     log_info(&tcp_log, "listening on port %d", port);
 *
 * Sources are static objects owned by their module; the first use links
 * them into the registry. Levels set by name apply to sources seen already
 * and to those that show up later. Single-threaded, like the scheduler.
 */
#ifndef TESSERA_LOG_H
#define TESSERA_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level {
    LOG_ERROR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
};

struct log_source {
    const char *name;         /* ro */
    int level;                /* messages above this level are dropped; -1: the default */
    struct log_source *next_; /* private: the registry */
    bool registered_;         /* private */
};

#define LOG_SOURCE(name_)                                                                                              \
    {                                                                                                                  \
        .name = (name_), .level = -1                                                                                   \
    }

/* Where finished lines go (the platform's console); NULL discards. */
void log_set_output(void (*write)(const char *text, size_t len));
/* The level of sources that have none of their own (default LOG_INFO). */
void log_set_default_level(enum log_level level);
/* Applies a configuration such as "info", "tcp=debug,arp=warn" or
 * "*=warn,http=debug" (a bare level or "*" resets every source to it).
 * Returns 0, or -LWT_EINVAL for an unknown level or malformed text, or
 * -LWT_ENOSPC past 16 named sources; then nothing is changed. */
int log_configure(const char *spec);

bool log_enabled(struct log_source *src, enum log_level level);
void log_msg(struct log_source *src, enum log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void log_vmsg(struct log_source *src, enum log_level level, const char *fmt, va_list ap);

#define log_error(src, ...) log_msg((src), LOG_ERROR, __VA_ARGS__)
#define log_warn(src, ...)                                                                                             \
    do {                                                                                                               \
        if (log_enabled((src), LOG_WARN))                                                                              \
            log_msg((src), LOG_WARN, __VA_ARGS__);                                                                     \
    } while (0)
#define log_info(src, ...)                                                                                             \
    do {                                                                                                               \
        if (log_enabled((src), LOG_INFO))                                                                              \
            log_msg((src), LOG_INFO, __VA_ARGS__);                                                                     \
    } while (0)
#define log_debug(src, ...)                                                                                            \
    do {                                                                                                               \
        if (log_enabled((src), LOG_DEBUG))                                                                             \
            log_msg((src), LOG_DEBUG, __VA_ARGS__);                                                                    \
    } while (0)

/* The early-boot ring: the last LOG_RING_BYTES of output, oldest first.
 * Writes it through `write`; returns the number of bytes written. */
#define LOG_RING_BYTES 4096
size_t log_ring_dump(void (*write)(const char *text, size_t len));

#endif
