/* The C half of the side-by-side benchmark against OCaml's Lwt (see run).
 * Usage: bench_lwt CASE [COUNT]; prints `ns_per_op=X bytes=Y`. Each case is
 * written the way the OCaml twin in ocaml/bench_lwt.ml is: same shapes,
 * same counts, results checked so nothing is optimised away. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lwt.h"
#include "lwt_sync.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "bench_lwt: check failed: %s\n", what);
        exit(1);
    }
}

static void drain(void)
{
    while (lwt_run_deferred(SIZE_MAX))
        ;
}

static lwt_t *unit_cont(void *v, void *ctx)
{
    (void)v, (void)ctx;
    return lwt_return(NULL);
}

/* bind on an already-resolved promise. */
static double bind_resolved(size_t n)
{
    double t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        lwt_t *p = lwt_bind(lwt_return(NULL), unit_cont, LWT_NOCTX);
        lwt_unref(p);
    }
    return (now_ns() - t0) / (double)n;
}

/* wait + bind on 1M promises pending at once, then wake them all. */
static double wait_bind_wakeup(size_t n)
{
    lwt_resolver_t **rs = malloc(n * sizeof *rs);
    lwt_t **ps = malloc(n * sizeof *ps);
    check(rs && ps, "allocation");
    double t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        ps[i] = lwt_bind(lwt_wait(&rs[i]), unit_cont, LWT_NOCTX);
    for (size_t i = 0; i < n; i++)
        lwt_wakeup(rs[i], NULL);
    drain();
    double t = (now_ns() - t0) / (double)n;
    for (size_t i = 0; i < n; i++) {
        check(lwt_state(ps[i]) == LWT_FULFILLED, "wait_bind_wakeup settled");
        lwt_unref(ps[i]);
    }
    free(rs);
    free(ps);
    return t;
}

/* join over 1M pending promises, then wake them all. */
static double join(size_t n)
{
    lwt_resolver_t **rs = malloc(n * sizeof *rs);
    lwt_t **ps = malloc(n * sizeof *ps);
    check(rs && ps, "allocation");
    double t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        ps[i] = lwt_wait(&rs[i]);
    lwt_t *all = lwt_join(ps, n);
    for (size_t i = 0; i < n; i++)
        lwt_wakeup(rs[i], NULL);
    drain();
    double t = (now_ns() - t0) / (double)n;
    check(lwt_state(all) == LWT_FULFILLED, "join settled");
    lwt_unref(all);
    free(rs);
    free(ps);
    return t;
}

/* choose (or pick) between two fresh pending promises, waking one. */
static double choose_like(size_t n, int pick)
{
    double t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        lwt_resolver_t *r1, *r2;
        lwt_t *ps[2];
        ps[0] = pick ? lwt_task(&r1) : lwt_wait(&r1);
        ps[1] = pick ? lwt_task(&r2) : lwt_wait(&r2);
        lwt_t *c = pick ? lwt_pick(ps, 2) : lwt_choose(ps, 2);
        lwt_wakeup(r2, LWT_INT(1));
        drain();
        check(lwt_state(c) == LWT_FULFILLED, "choose settled");
        lwt_unref(c);
        /* The loser is never woken (in pick it was cancelled). */
        lwt_resolver_drop(r1);
    }
    return (now_ns() - t0) / (double)n;
}

/* Two promise chains ping-ponging through two mvars. */
struct pingpong {
    struct lwt_mvar ping, pong;
    size_t rounds, done;
};

static struct pingpong pp;

static lwt_t *pinger(void *v, void *ctx);

static lwt_t *pinger_got_pong(void *v, void *ctx)
{
    (void)ctx;
    check(LWT_TO_INT(v) == (intptr_t)pp.done, "pong value");
    pp.done++;
    return pinger(NULL, NULL);
}

static lwt_t *pinger_sent(void *v, void *ctx)
{
    (void)v, (void)ctx;
    return lwt_bind(lwt_mvar_take(&pp.pong), pinger_got_pong, LWT_NOCTX);
}

static lwt_t *pinger(void *v, void *ctx)
{
    (void)v, (void)ctx;
    if (pp.done == pp.rounds)
        return lwt_return(NULL);
    return lwt_bind(lwt_mvar_put(&pp.ping, LWT_INT(pp.done)), pinger_sent, LWT_NOCTX);
}

static lwt_t *ponger(void *v, void *ctx);

static lwt_t *ponger_got_ping(void *v, void *ctx)
{
    (void)ctx;
    return lwt_bind(lwt_mvar_put(&pp.pong, v), ponger, LWT_NOCTX);
}

static lwt_t *ponger(void *v, void *ctx)
{
    (void)v, (void)ctx;
    if (pp.done == pp.rounds)
        return lwt_return(NULL);
    return lwt_bind(lwt_mvar_take(&pp.ping), ponger_got_ping, LWT_NOCTX);
}

static double mvar(size_t n)
{
    lwt_mvar_init(&pp.ping);
    lwt_mvar_init(&pp.pong);
    pp.rounds = n;
    pp.done = 0;
    double t0 = now_ns();
    lwt_t *b = ponger(NULL, NULL);
    lwt_t *a = pinger(NULL, NULL);
    drain();
    double t = (now_ns() - t0) / (double)n;
    check(pp.done == n && lwt_state(a) == LWT_FULFILLED, "mvar rounds");
    lwt_unref(a);
    /* The ponger is left waiting for a ping that never comes. */
    lwt_cancel(b);
    lwt_unref(b);
    lwt_mvar_destroy(&pp.ping);
    lwt_mvar_destroy(&pp.pong);
    return t;
}

/* Bytes per pending promise with one bind callback: the library's live
 * object bytes, as OCaml's side counts live heap words (neither counts the
 * allocator's own overhead; malloc's view is printed to stderr for
 * reference). The holding arrays are excluded. */
static double bytes_per_pending(size_t n)
{
    lwt_resolver_t **rs = malloc(n * sizeof *rs);
    lwt_t **ps = malloc(n * sizeof *ps);
    check(rs && ps, "allocation");
    size_t before = lwt_memory_in_use();
    struct mallinfo2 m_before = mallinfo2();
    for (size_t i = 0; i < n; i++)
        ps[i] = lwt_bind(lwt_wait(&rs[i]), unit_cont, LWT_NOCTX);
    struct mallinfo2 m_after = mallinfo2();
    double bytes = (double)(lwt_memory_in_use() - before) / (double)n;
    fprintf(stderr, "bench_lwt: malloc's view: %.2f bytes per pending promise\n",
            (double)(m_after.uordblks + m_after.hblkhd - m_before.uordblks - m_before.hblkhd) / (double)n);
    for (size_t i = 0; i < n; i++)
        lwt_wakeup(rs[i], NULL);
    drain();
    for (size_t i = 0; i < n; i++)
        lwt_unref(ps[i]);
    free(rs);
    free(ps);
    return bytes;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_lwt CASE [COUNT]\n");
        return 2;
    }
    const char *c = argv[1];
    size_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
    size_t dflt = strcmp(c, "bind_resolved") == 0 ? 10000000 : 1000000;
    if (n == 0)
        n = dflt;
    double ns = 0, bytes = 0;
    if (strcmp(c, "bind_resolved") == 0)
        ns = bind_resolved(n);
    else if (strcmp(c, "wait_bind_wakeup") == 0)
        ns = wait_bind_wakeup(n);
    else if (strcmp(c, "join") == 0)
        ns = join(n);
    else if (strcmp(c, "choose") == 0)
        ns = choose_like(n, 0);
    else if (strcmp(c, "pick") == 0)
        ns = choose_like(n, 1);
    else if (strcmp(c, "mvar") == 0)
        ns = mvar(n);
    else if (strcmp(c, "bytes_per_pending") == 0)
        bytes = bytes_per_pending(n);
    else {
        fprintf(stderr, "bench_lwt: unknown case %s\n", c);
        return 2;
    }
    drain(); /* LWT_DEFER_ALL builds leave the last callbacks queued */
    check(lwt_live_count() == 0, "no promise left alive");
    printf("ns_per_op=%.2f bytes=%.2f\n", ns, bytes);
    return 0;
}
