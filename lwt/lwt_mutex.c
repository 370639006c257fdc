/* Mutex between promise chains: ownership passes straight to the oldest
 * waiter on unlock, so a waiter cannot be overtaken. */
#include <string.h>

#include "lwt_waitq.h"

void lwt_mutex_init(struct lwt_mutex *m)
{
    m->locked = false;
    lwt__waitq_init(&m->queue);
}

lwt_t *lwt_mutex_lock(struct lwt_mutex *m)
{
    if (!m->locked) {
        m->locked = true;
        return lwt_return(NULL);
    }
    return lwt__waitq_wait(&m->queue, NULL);
}

void lwt_mutex_unlock(struct lwt_mutex *m)
{
    if (!m->locked)
        lwt__panic("lwt_mutex_unlock: mutex is not locked");
    lwt_resolver_t *next;
    if (lwt__waitq_pop(&m->queue, &next, NULL))
        lwt_wakeup(next, NULL); /* stays locked: next owns it now */
    else
        m->locked = false;
}

bool lwt_mutex_is_locked(const struct lwt_mutex *m)
{
    return m->locked;
}

void lwt_mutex_destroy(struct lwt_mutex *m)
{
    lwt__waitq_fail_all(&m->queue, -LWT_EPIPE);
}

/* with_lock: lock, then f, then unlock however f's promise settles. */

struct with_lock_ctx {
    struct lwt_mutex *m;
    lwt_thunk_fn f;
    max_align_t user[];
};

static lwt_t *unlock_after(void *ctx)
{
    lwt_mutex_unlock(*(struct lwt_mutex **)ctx);
    return lwt_return(NULL);
}

static lwt_t *run_locked(void *value, void *ctx)
{
    (void)value;
    struct with_lock_ctx *w = ctx;
    return lwt_finalize(w->f(w->user), unlock_after, LWT_CTX(w->m));
}

lwt_t *lwt_mutex_with_lock(struct lwt_mutex *m, lwt_thunk_fn f, const void *ctx, size_t ctx_size)
{
    /* The bind copies its context, so this staging copy is short-lived. */
    uint8_t cls;
    size_t size = sizeof(struct with_lock_ctx) + ctx_size;
    struct with_lock_ctx *w = lwt__alloc(size, &cls);
    w->m = m;
    w->f = f;
    if (ctx_size)
        memcpy(w->user, ctx, ctx_size);
    lwt_t *p = lwt_bind(lwt_mutex_lock(m), run_locked, w, size);
    lwt__free(w, cls);
    return p;
}
