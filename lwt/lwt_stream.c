/* Bounded stream between promise chains; see lwt_stream.h. */
#include <stdlib.h>

#include "lwt_stream.h"
#include "lwt_waitq.h"

int lwt_stream_init(struct lwt_stream *s, size_t capacity)
{
    if (capacity == 0 || capacity > SIZE_MAX / sizeof(void *))
        return -LWT_EINVAL;
    s->ring = malloc(capacity * sizeof(void *));
    if (!s->ring)
        return -LWT_ENOMEM;
    s->capacity = capacity;
    s->head = s->len = 0;
    s->closed = false;
    lwt__waitq_init(&s->getters);
    lwt__waitq_init(&s->pushers);
    return 0;
}

static void enqueue(struct lwt_stream *s, void *value)
{
    s->ring[(s->head + s->len) % s->capacity] = value;
    s->len++;
}

int lwt_stream_try_push(struct lwt_stream *s, void *value)
{
    if (s->closed)
        return -LWT_EPIPE;
    lwt_resolver_t *getter;
    if (s->len == 0 && lwt__waitq_pop(&s->getters, &getter, NULL)) {
        lwt_wakeup(getter, value);
        return 0;
    }
    if (s->len == s->capacity)
        return -LWT_EAGAIN;
    enqueue(s, value);
    return 0;
}

lwt_t *lwt_stream_push(struct lwt_stream *s, void *value)
{
    int rc = lwt_stream_try_push(s, value);
    if (rc == -LWT_EAGAIN)
        return lwt__waitq_wait(&s->pushers, value);
    return rc ? lwt_fail(rc) : lwt_return(NULL);
}

int lwt_stream_try_get(struct lwt_stream *s, void **value_out)
{
    if (s->len == 0)
        return s->closed ? -LWT_ENODATA : -LWT_EAGAIN;
    *value_out = s->ring[s->head];
    s->head = (s->head + 1) % s->capacity;
    s->len--;
    /* Room again: the oldest blocked pusher's value moves in. */
    lwt_resolver_t *pusher;
    void *pushed;
    if (lwt__waitq_pop(&s->pushers, &pusher, &pushed)) {
        enqueue(s, pushed);
        lwt_wakeup(pusher, NULL);
    }
    return 0;
}

lwt_t *lwt_stream_get(struct lwt_stream *s)
{
    void *v;
    int rc = lwt_stream_try_get(s, &v);
    if (rc == -LWT_EAGAIN)
        return lwt__waitq_wait(&s->getters, NULL);
    return rc ? lwt_fail(rc) : lwt_return(v);
}

void lwt_stream_close(struct lwt_stream *s)
{
    if (s->closed)
        return;
    s->closed = true;
    lwt__waitq_fail_all(&s->pushers, -LWT_EPIPE);
    if (s->len == 0)
        lwt__waitq_fail_all(&s->getters, -LWT_ENODATA);
}

void lwt_stream_destroy(struct lwt_stream *s)
{
    s->closed = true;
    lwt__waitq_fail_all(&s->pushers, -LWT_EPIPE);
    lwt__waitq_fail_all(&s->getters, -LWT_EPIPE);
    free(s->ring);
    s->ring = NULL;
    s->len = 0;
}
