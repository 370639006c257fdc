/* The platform hooks (output and panic) and what the library reports through
 * them: error descriptions, rejection reports (unhandled ones, and a
 * program's main promise), the pending-promise dump.
 * Debug builds also keep every live promise on a list with its creation site
 * and give each rejection the chain of bind sites it travelled through. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "lwt_debug.h"
#include "lwt_internal.h"

static struct lwt_platform platform;

void lwt_set_platform(const struct lwt_platform *p)
{
    platform = p ? *p : (struct lwt_platform){0};
}

_Noreturn void lwt__panic(const char *msg)
{
    if (platform.panic)
        platform.panic(msg);
    __builtin_trap();
}

void lwt__print(const char *fmt, ...)
{
    if (!platform.write)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    platform.write(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

#ifdef LWT_DEBUG

/* A rejection's trace: sites newest first, shared (counted) between the
 * promises a rejection reached. The oldest may be the origin, where the
 * rejection began; the others are sites it travelled through. While a
 * promise is pending, its trace field holds instead the sites of the
 * promises merged into it (innermost first), which its rejection will have
 * travelled through; that list is its own. */
struct lwt__trace {
    struct lwt__trace *next; /* older sites; owned */
    const char *file;
    int line;
    uint32_t rc;
    uint8_t cls;
    bool origin;
};

/* Sites of merged promises a pending promise keeps: the innermost, where a
 * rejection starts. A recursive loop merges one step after another, so the
 * list is bounded (and a repeated site is kept once). */
#define MERGED_SITES_MAX 8

static struct lwt *live_head;

void lwt__debug_track(struct lwt *p, const char *file, int line)
{
    p->file = file;
    p->line = line;
    p->trace = NULL;
    p->dbg_prev = NULL;
    p->dbg_next = live_head;
    if (live_head)
        live_head->dbg_prev = p;
    live_head = p;
}

static void trace_release(struct lwt__trace *t)
{
    while (t && --t->rc == 0) {
        struct lwt__trace *next = t->next;
        lwt__free(t, t->cls);
        t = next;
    }
}

void lwt__debug_untrack(struct lwt *p)
{
    trace_release(p->trace);
    p->trace = NULL;
    if (p->dbg_prev)
        p->dbg_prev->dbg_next = p->dbg_next;
    else
        live_head = p->dbg_next;
    if (p->dbg_next)
        p->dbg_next->dbg_prev = p->dbg_prev;
}

static struct lwt__trace *site_new(const struct lwt *at, struct lwt__trace *next, bool origin)
{
    uint8_t cls;
    struct lwt__trace *site = lwt__alloc(sizeof *site, &cls);
    *site =
        (struct lwt__trace){.next = next, .file = at->file, .line = at->line, .rc = 1, .cls = cls, .origin = origin};
    return site;
}

static bool same_site(const struct lwt__trace *t, const struct lwt *p)
{
    return t && t->line == p->line && t->file == p->file;
}

void lwt__debug_merge(struct lwt *outer, struct lwt *u)
{
    /* u's own merged promises are inner to u, and u is inner to those
     * merged into outer before: u's list, u, outer's list. */
    struct lwt__trace *list = u->trace, *tail = NULL;
    u->trace = NULL;
    for (tail = list; tail && tail->next; tail = tail->next)
        ;
    /* A recursive loop's steps often share outer's own site, which its
     * rejection names anyway. */
    bool as_outer = u->line == outer->line && u->file == outer->file;
    if (u->file && !as_outer && !same_site(tail, u)) {
        struct lwt__trace *site = site_new(u, NULL, false);
        if (tail)
            tail->next = site;
        else
            list = site;
        tail = site;
    }
    struct lwt__trace *rest = outer->trace;
    if (tail && rest && rest->line == tail->line && rest->file == tail->file) {
        struct lwt__trace *dup = rest;
        rest = rest->next;
        dup->next = NULL;
        trace_release(dup);
    }
    if (tail)
        tail->next = rest;
    else
        list = rest;
    /* Only the innermost MERGED_SITES_MAX stay. */
    struct lwt__trace *t = list;
    for (int n = 1; t && n < MERGED_SITES_MAX; n++)
        t = t->next;
    if (t) {
        trace_release(t->next);
        t->next = NULL;
    }
    outer->trace = list;
}

void lwt__debug_set_trace(struct lwt *p, const struct lwt *src, const struct lwt *via)
{
    struct lwt__trace *merged = p->trace;
    p->trace = NULL;
    /* What src's rejection travelled through, or else where it began. */
    struct lwt__trace *t = NULL;
    if (src && src->trace) {
        t = src->trace;
        t->rc++;
    } else if (src && src->file) {
        t = site_new(src, NULL, true);
    }
    /* Then the promises merged into p, innermost first; with no src, the
     * innermost is where the rejection began, and p was reached from it. */
    bool began_inside = !src && merged;
    for (struct lwt__trace *m = merged; m;) {
        struct lwt__trace *next = m->next;
        m->origin = !src && !t;
        m->next = t;
        t = m;
        m = next;
    }
    if (via && via->file)
        t = site_new(via, t, false);
    else if (began_inside && p->file)
        t = site_new(p, t, false);
    p->trace = t;
}

size_t lwt_dump_pending(void)
{
    size_t n = 0;
    for (struct lwt *p = live_head; p; p = p->dbg_next) {
        if (p->state != LWT__PENDING)
            continue;
        n++;
        lwt__print("lwt: pending promise created at %s:%d\n", p->file ? p->file : "?", p->line);
    }
    lwt__print("lwt: %zu pending promise(s)\n", n);
    return n;
}

#else

size_t lwt_dump_pending(void)
{
    lwt__print("lwt: pending-promise dump needs a debug build (LWT_DEBUG)\n");
    return 0;
}

#endif

size_t lwt_describe_error(lwt_t *p, char *buf, size_t size)
{
    struct lwt *u = lwt__underlying(p);
    if (u->state != LWT__REJECTED)
        return (size_t)snprintf(buf, size, "not rejected");
    size_t len = 0;
#define APPEND(...)                                                                                                    \
    do {                                                                                                               \
        int n_ = snprintf(buf ? buf + (len < size ? len : size) : NULL, len < size ? size - len : 0, __VA_ARGS__);     \
        if (n_ > 0)                                                                                                    \
            len += (size_t)n_;                                                                                         \
    } while (0)
    if (size)
        buf[0] = '\0';
    APPEND("error %d (%s)", u->u.err, lwt_strerror(u->u.err));
#ifdef LWT_DEBUG
    /* Where it began: the trace's origin, else the promise itself. */
    const struct lwt__trace *oldest = u->trace;
    while (oldest && oldest->next)
        oldest = oldest->next;
    const char *file = oldest && oldest->origin ? oldest->file : u->file;
    int line = oldest && oldest->origin ? oldest->line : u->line;
    if (file)
        APPEND(", rejected at %s:%d", file, line);
    bool first = true;
    for (struct lwt__trace *t = u->trace; t; t = t->next) {
        if (t->origin)
            continue;
        APPEND("%s bind at %s:%d", first ? "; through" : " <-", t->file, t->line);
        first = false;
    }
#endif
#undef APPEND
    return len;
}

void lwt_report_rejection(lwt_t *p, const char *what)
{
    if (!platform.write || lwt__underlying(p)->state != LWT__REJECTED)
        return;
    /* One line, one write, however long the chain: the buffer on the stack
     * covers the usual case, a larger one is allocated for a deep chain. */
    char local[512];
    char *buf = local;
    size_t head = (size_t)snprintf(NULL, 0, "lwt: %s: ", what);
    size_t need = head + lwt_describe_error(p, NULL, 0) + 2; /* newline, NUL */
    size_t size = sizeof local;
    if (need > size) {
        char *big = malloc(need);
        if (big) {
            buf = big;
            size = need;
        }
    }
    snprintf(buf, size, "lwt: %s: ", what);
    size_t len = head < size ? head : size - 1;
    len += lwt_describe_error(p, buf + len, size - len);
    if (len > size - 2)
        len = size - 2; /* truncated: no room for a larger buffer */
    buf[len++] = '\n';
    platform.write(buf, len);
    if (buf != local)
        free(buf);
}
