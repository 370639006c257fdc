/* See log.h. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "lwt_errno.h"

static void (*output)(const char *text, size_t len);
static int default_level = LOG_INFO;
static struct log_source *sources;

static char ring[LOG_RING_BYTES];
static size_t ring_end;   /* next write position */
static bool ring_wrapped; /* the whole ring holds data */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_output(void (*write)(const char *text, size_t len))
{
    output = write;
}

void log_set_default_level(enum log_level level)
{
    default_level = level;
}

/* Per-name levels from log_configure, applied to sources that show up
 * later too. */
#define MAX_NAMED 16
#define MAX_NAME  32
static struct {
    char name[MAX_NAME];
    int level;
} named[MAX_NAMED];
static size_t named_count;

static void register_source(struct log_source *src)
{
    if (src->registered_)
        return;
    src->registered_ = true;
    src->next_ = sources;
    sources = src;
    for (size_t i = 0; i < named_count; i++)
        if (strcmp(named[i].name, src->name) == 0)
            src->level = named[i].level;
}

bool log_enabled(struct log_source *src, enum log_level level)
{
    register_source(src);
    int limit = src->level >= 0 ? src->level : default_level;
    return (int)level <= limit;
}

static void ring_append(const char *text, size_t len)
{
    while (len) {
        size_t room = LOG_RING_BYTES - ring_end;
        size_t n = len < room ? len : room;
        memcpy(ring + ring_end, text, n);
        ring_end += n;
        text += n;
        len -= n;
        if (ring_end == LOG_RING_BYTES) {
            ring_end = 0;
            ring_wrapped = true;
        }
    }
}

void log_vmsg(struct log_source *src, enum log_level level, const char *fmt, va_list ap)
{
    register_source(src);
    if (!log_enabled(src, level))
        return;
    char line[512];
    int head = snprintf(line, sizeof line, "[%s] %s: ", level_names[level], src->name);
    if (head < 0)
        return;
    size_t len = (size_t)head < sizeof line ? (size_t)head : sizeof line - 1;
    int body = vsnprintf(line + len, sizeof line - len, fmt, ap);
    if (body > 0)
        len += (size_t)body < sizeof line - len ? (size_t)body : sizeof line - len - 1;
    if (len >= sizeof line - 1)
        len = sizeof line - 2; /* truncated: keep room for the newline */
    line[len++] = '\n';
    ring_append(line, len);
    if (output)
        output(line, len);
}

void log_msg(struct log_source *src, enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(src, level, fmt, ap);
    va_end(ap);
}

size_t log_ring_dump(void (*write)(const char *text, size_t len))
{
    size_t total = 0;
    if (ring_wrapped) {
        write(ring + ring_end, LOG_RING_BYTES - ring_end);
        total += LOG_RING_BYTES - ring_end;
    }
    if (ring_end) {
        write(ring, ring_end);
        total += ring_end;
    }
    return total;
}

/* ---- Configuration ------------------------------------------------------ */

static int parse_level(const char *s, size_t len)
{
    for (int i = 0; i < (int)(sizeof level_names / sizeof level_names[0]); i++)
        if (strlen(level_names[i]) == len && memcmp(level_names[i], s, len) == 0)
            return i;
    return -1;
}

struct setting {
    const char *name; /* NULL: every source ("*" or a bare level) */
    size_t name_len;
    int level;
};

/* Parses one "name=level" or "level" item of spec. */
static int parse_item(const char *item, size_t len, struct setting *out)
{
    const char *eq = memchr(item, '=', len);
    if (!eq) {
        out->name = NULL;
        out->level = parse_level(item, len);
    } else {
        out->name = item;
        out->name_len = (size_t)(eq - item);
        out->level = parse_level(eq + 1, len - out->name_len - 1);
        if (out->name_len == 0 || out->name_len >= MAX_NAME)
            return -LWT_EINVAL;
        if (out->name_len == 1 && item[0] == '*')
            out->name = NULL;
    }
    return out->level < 0 ? -LWT_EINVAL : 0;
}

static void apply(const struct setting *st)
{
    if (!st->name) {
        default_level = st->level;
        named_count = 0;
        for (struct log_source *src = sources; src; src = src->next_)
            src->level = -1;
        return;
    }
    size_t i = 0;
    while (i < named_count &&
           !(strlen(named[i].name) == st->name_len && memcmp(named[i].name, st->name, st->name_len) == 0))
        i++;
    if (i == named_count)
        named_count++;
    memcpy(named[i].name, st->name, st->name_len);
    named[i].name[st->name_len] = '\0';
    named[i].level = st->level;
    for (struct log_source *src = sources; src; src = src->next_)
        if (strlen(src->name) == st->name_len && memcmp(src->name, st->name, st->name_len) == 0)
            src->level = st->level;
}

int log_configure(const char *spec)
{
    /* Validate everything first, so a bad spec changes nothing. */
    size_t names = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *p = spec;
        for (;;) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            struct setting st;
            if (len == 0 || parse_item(p, len, &st) != 0)
                return -LWT_EINVAL;
            names += pass == 0 && st.name;
            if (names + named_count > MAX_NAMED)
                return -LWT_ENOSPC;
            if (pass == 1)
                apply(&st);
            if (!end)
                break;
            p = end + 1; /* an empty item after a comma is refused above */
        }
    }
    return 0;
}
