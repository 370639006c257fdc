/* The main loop, timers, pause and the shutdown promise; see sched.h. */
#include "lwt_timer_heap.h"
#include "scheduler.h"

/* One armed sleep or timeout, stored inside its task (lwt_task_with). In the
 * heap from creation until it fires or its task is cancelled (the hook). */
struct sched_timer {
    struct lwt_timer node; /* in the heap while armed */
    struct lwt_hook hook;  /* on the task */
    /* The resolver (NULL once handed to a wakeup), with bit 0 set for a
     * timeout: no separate field, so a timer and its task fit in 64 bytes. */
    uintptr_t resolver_bits;
};

static lwt_resolver_t *timer_resolver(const struct sched_timer *t)
{
    return (lwt_resolver_t *)(t->resolver_bits & ~(uintptr_t)1);
}

static bool timer_is_timeout(const struct sched_timer *t)
{
    return t->resolver_bits & 1;
}

/* One sched_pause, waiting for the next turn; stored like a timer. */
struct sched_pause {
    struct lwt_hook hook;
    lwt_resolver_t *resolver;
    struct sched_pause *prev, *next;
    bool queued;
};

static struct {
    struct sched_platform platform;
    struct lwt_timer_heap timers;
    struct sched_pause *paused_head, *paused_tail;
    lwt_t *shutdown;                   /* created on first request */
    lwt_resolver_t *shutdown_resolver; /* NULL once resolved */
    int pending_shutdown;              /* a request made before anyone asked */
} s;

void sched_init(const struct sched_platform *platform)
{
    s.platform = *platform;
    lwt_timer_heap_init(&s.timers);
    s.paused_head = s.paused_tail = NULL;
    s.shutdown = NULL;
    s.shutdown_resolver = NULL;
    s.pending_shutdown = 0;
}

uint64_t sched_now(void)
{
    return s.platform.now(s.platform.ctx);
}

/* ---- Timers ------------------------------------------------------------ */

static void timer_settled(struct lwt_hook *hook, lwt_t *settled)
{
    (void)settled;
    struct sched_timer *t = (struct sched_timer *)((char *)hook - offsetof(struct sched_timer, hook));
    if (lwt_timer_is_armed(&t->node)) {
        /* Settled before it fired: cancelled. It leaves the heap now; its
         * memory goes with the promise. */
        lwt_timer_heap_remove(&s.timers, &t->node);
        lwt_resolver_drop(timer_resolver(t));
    }
}

static lwt_t *arm(uint64_t deadline, bool is_timeout)
{
    /* The timer lives inside its task's allocation: the task is alive while
     * the timer is armed, since the timer holds its resolver. */
    struct sched_timer *t;
    lwt_resolver_t *r;
    lwt_t *p = lwt_task_with(&r, sizeof *t, (void **)&t);
    lwt_timer_init(&t->node, deadline);
    t->resolver_bits = (uintptr_t)r | (is_timeout ? 1 : 0);
    if (lwt_timer_heap_insert(&s.timers, &t->node) != 0) {
        lwt_resolver_drop(r);
        lwt_unref(p);
        return lwt_fail(LWT_ENOMEM);
    }
    lwt_hook_attach(p, &t->hook, timer_settled);
    return p;
}

lwt_t *sched_sleep_until(uint64_t deadline)
{
    return arm(deadline, false);
}

static uint64_t after(uint64_t ns)
{
    uint64_t now = sched_now();
    return ns > SCHED_FOREVER - 1 - now ? SCHED_FOREVER - 1 : now + ns;
}

lwt_t *sched_sleep(uint64_t ns)
{
    return arm(after(ns), false);
}

lwt_t *sched_timeout(uint64_t ns)
{
    return arm(after(ns), true);
}

lwt_t *sched_with_timeout(lwt_t *p, uint64_t ns)
{
    lwt_t *race[2] = {p, sched_timeout(ns)};
    return lwt_pick(race, 2);
}

size_t sched_timer_count(void)
{
    return s.timers.len;
}

/* Timers are an event source: they only enqueue. */
static void fire_due(uint64_t now)
{
    struct lwt_timer *node;
    while ((node = lwt_timer_heap_pop_due(&s.timers, now))) {
        struct sched_timer *t = (struct sched_timer *)node;
        lwt_resolver_t *r = timer_resolver(t);
        bool timeout = timer_is_timeout(t);
        t->resolver_bits = 0;
        if (timeout)
            lwt_wakeup_fail_later(r, -LWT_ETIMEDOUT);
        else
            lwt_wakeup_later(r, NULL);
    }
}

/* ---- Pause ------------------------------------------------------------- */

static void pause_unlink(struct sched_pause *ps)
{
    if (ps->prev)
        ps->prev->next = ps->next;
    else
        s.paused_head = ps->next;
    if (ps->next)
        ps->next->prev = ps->prev;
    else
        s.paused_tail = ps->prev;
    ps->queued = false;
}

static void pause_settled(struct lwt_hook *hook, lwt_t *settled)
{
    (void)settled;
    struct sched_pause *ps = (struct sched_pause *)hook;
    if (ps->queued) {
        pause_unlink(ps);
        lwt_resolver_drop(ps->resolver);
    }
}

lwt_t *sched_pause(void)
{
    /* Stored inside its task, like a timer. */
    struct sched_pause *ps;
    lwt_resolver_t *r;
    lwt_t *p = lwt_task_with(&r, sizeof *ps, (void **)&ps);
    ps->resolver = r;
    ps->queued = true;
    ps->next = NULL;
    ps->prev = s.paused_tail;
    if (s.paused_tail)
        s.paused_tail->next = ps;
    else
        s.paused_head = ps;
    s.paused_tail = ps;
    lwt_hook_attach(p, &ps->hook, pause_settled);
    return p;
}

/* Wakes those paused before this turn's poll; pauses made by the callbacks
 * this runs wait for the next turn (they run later: wakeups only enqueue). */
static void wake_paused(void)
{
    while (s.paused_head) {
        struct sched_pause *ps = s.paused_head;
        pause_unlink(ps);
        lwt_wakeup_later(ps->resolver, NULL);
    }
}

/* ---- Shutdown ---------------------------------------------------------- */

lwt_t *sched_shutdown_requested(void)
{
    if (!s.shutdown) {
        s.shutdown = lwt_wait(&s.shutdown_resolver);
        if (s.pending_shutdown)
            sched_request_shutdown(s.pending_shutdown);
    }
    return lwt_ref(s.shutdown);
}

void sched_request_shutdown(int reason)
{
    if (!s.shutdown) {
        s.pending_shutdown = reason ? reason : 1;
        return;
    }
    if (s.shutdown_resolver) {
        lwt_wakeup_later(s.shutdown_resolver, LWT_INT(reason));
        s.shutdown_resolver = NULL;
    }
}

/* ---- The loop ---------------------------------------------------------- */

/* Turns until main settles; 0, or the platform's error. Borrows main. */
static int run_until_settled(lwt_t *main)
{
    for (;;) {
        /* Timers first, so that what they wake runs in this same turn. */
        uint64_t now = sched_now();
        fire_due(now);
        lwt_run_deferred(SCHED_BATCH_BUDGET);
        if (lwt_state(main) != LWT_PENDING)
            return 0;
        uint64_t deadline;
        if (lwt_has_deferred() || s.paused_head) {
            deadline = now; /* poll I/O, then carry on with the work */
        } else {
            struct lwt_timer *next = lwt_timer_heap_peek(&s.timers);
            deadline = next ? next->deadline : SCHED_FOREVER;
        }
        int rc = s.platform.block(s.platform.ctx, deadline);
        if (rc < 0)
            return rc;
        wake_paused();
    }
}

static int run(lwt_t *main, void **value_out, bool report)
{
    int rc = run_until_settled(main);
    if (rc == 0) {
        rc = lwt_error(main);
        if (rc == 0 && value_out)
            *value_out = lwt_value(main);
        if (rc < 0 && report)
            lwt_report_rejection(main, "main promise rejected");
    }
    lwt_unref(main);
    return rc;
}

int sched_run(lwt_t *main, void **value_out)
{
    return run(main, value_out, false);
}

int sched_run_main(lwt_t *main, void **value_out)
{
    return run(main, value_out, true);
}

void sched_destroy(void)
{
    /* Whatever still waits on the scheduler is told it never will. */
    struct lwt_timer *node;
    while ((node = lwt_timer_heap_peek(&s.timers))) {
        struct sched_timer *t = (struct sched_timer *)node;
        lwt_timer_heap_remove(&s.timers, node);
        lwt_resolver_t *r = timer_resolver(t);
        t->resolver_bits = 0;
        lwt_resolver_drop(r);
    }
    while (s.paused_head) {
        struct sched_pause *ps = s.paused_head;
        pause_unlink(ps);
        lwt_resolver_drop(ps->resolver);
    }
    if (s.shutdown_resolver)
        lwt_resolver_drop(s.shutdown_resolver);
    s.shutdown_resolver = NULL;
    lwt_unref(s.shutdown);
    s.shutdown = NULL;
    while (lwt_run_deferred(SIZE_MAX))
        ;
    lwt_timer_heap_destroy(&s.timers);
}
