/* See net_buf.h. */
#include <stdlib.h>

#include "lwt_errno.h"
#include "net_buf.h"

static size_t live_bufs;

size_t net_buf_live_count(void)
{
    return live_bufs;
}

static void free_own(struct net_buf *b)
{
    live_bufs--;
    free(b);
}

struct net_buf *net_buf_new(size_t cap)
{
    if (cap > UINT32_MAX)
        return NULL;
    struct net_buf *b = malloc(sizeof *b + cap);
    if (!b)
        return NULL;
    live_bufs++;
    net_buf_init(b, (uint8_t *)(b + 1), cap, free_own, NULL);
    return b;
}

void net_buf_init(struct net_buf *b, uint8_t *data, size_t cap, net_buf_destroy_fn destroy, void *owner)
{
    b->rc = 1;
    b->cap = (uint32_t)cap;
    b->data = data;
    b->destroy = destroy;
    b->owner = owner;
}

struct net_buf *net_buf_ref(struct net_buf *b)
{
    b->rc++;
    return b;
}

void net_buf_unref(struct net_buf *b)
{
    if (b && --b->rc == 0)
        b->destroy(b);
}

int net_slice_alloc(struct net_slice *s, size_t headroom, size_t len)
{
    *s = (struct net_slice){0};
    if (headroom > UINT32_MAX - len)
        return -LWT_ENOMEM;
    struct net_buf *b = net_buf_new(headroom + len);
    if (!b)
        return -LWT_ENOMEM;
    *s = (struct net_slice){b, (uint32_t)headroom, (uint32_t)len};
    return 0;
}

int net_slice_copy(struct net_slice *s, size_t headroom, const void *data, size_t len)
{
    int rc = net_slice_alloc(s, headroom, len);
    if (rc == 0 && len)
        memcpy(net_slice_data(s), data, len);
    return rc;
}

void net_slice_release(struct net_slice *s)
{
    net_buf_unref(s->buf);
    *s = (struct net_slice){0};
}

struct net_slice net_slice_share(const struct net_slice *s)
{
    if (s->buf)
        net_buf_ref(s->buf);
    return *s;
}

int net_slice_push(struct net_slice *s, size_t n)
{
    if (n > s->off)
        return -LWT_ENOBUFS;
    s->off -= (uint32_t)n;
    s->len += (uint32_t)n;
    return 0;
}

int net_slice_pull(struct net_slice *s, size_t n)
{
    if (n > s->len)
        return -LWT_EBADMSG;
    s->off += (uint32_t)n;
    s->len -= (uint32_t)n;
    return 0;
}

int net_slice_trim(struct net_slice *s, size_t len)
{
    if (len > s->len)
        return -LWT_EBADMSG;
    s->len = (uint32_t)len;
    return 0;
}
