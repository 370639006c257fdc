/* MVar: a one-value box between promise chains (Lwt_mvar). A put into an
 * empty box with a taker waiting goes straight to the taker. */
#include "lwt_waitq.h"

void lwt_mvar_init(struct lwt_mvar *mv)
{
    mv->full = false;
    mv->value = NULL;
    lwt__waitq_init(&mv->takers);
    lwt__waitq_init(&mv->putters);
}

void lwt_mvar_init_full(struct lwt_mvar *mv, void *value)
{
    lwt_mvar_init(mv);
    mv->full = true;
    mv->value = value;
}

lwt_t *lwt_mvar_put(struct lwt_mvar *mv, void *value)
{
    lwt_resolver_t *taker;
    if (!mv->full && lwt__waitq_pop(&mv->takers, &taker, NULL)) {
        lwt_wakeup(taker, value);
        return lwt_return(NULL);
    }
    if (!mv->full) {
        mv->full = true;
        mv->value = value;
        return lwt_return(NULL);
    }
    return lwt__waitq_wait(&mv->putters, value);
}

bool lwt_mvar_take_available(struct lwt_mvar *mv, void **value_out)
{
    if (!mv->full)
        return false;
    *value_out = mv->value;
    lwt_resolver_t *putter;
    void *next;
    if (lwt__waitq_pop(&mv->putters, &putter, &next)) {
        mv->value = next; /* stays full */
        lwt_wakeup(putter, NULL);
    } else {
        mv->full = false;
        mv->value = NULL;
    }
    return true;
}

lwt_t *lwt_mvar_take(struct lwt_mvar *mv)
{
    void *v;
    if (lwt_mvar_take_available(mv, &v))
        return lwt_return(v);
    return lwt__waitq_wait(&mv->takers, NULL);
}

bool lwt_mvar_is_empty(const struct lwt_mvar *mv)
{
    return !mv->full;
}

void lwt_mvar_destroy(struct lwt_mvar *mv)
{
    lwt__waitq_fail_all(&mv->takers, -LWT_EPIPE);
    lwt__waitq_fail_all(&mv->putters, -LWT_EPIPE);
}
