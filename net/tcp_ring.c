/* Byte rings for TCP's send and receive buffers. */
#include <stdlib.h>

#include "lwt_errno.h"
#include "tcp_internal.h"

int tcp_ring_init(struct tcp_ring *r, uint32_t cap)
{
    r->data = malloc(cap);
    r->cap = r->data ? cap : 0;
    r->head = r->len = 0;
    return r->data ? 0 : -LWT_ENOMEM;
}

void tcp_ring_free(struct tcp_ring *r)
{
    free(r->data);
    r->data = NULL;
    r->cap = r->head = r->len = 0;
}

/* Copies len bytes to/from ring position pos (an index, wrapping). */
static void copy_in(struct tcp_ring *r, uint32_t pos, const uint8_t *src, uint32_t len)
{
    pos %= r->cap;
    uint32_t first = r->cap - pos < len ? r->cap - pos : len;
    memcpy(r->data + pos, src, first);
    memcpy(r->data, src + first, len - first);
}

uint32_t tcp_ring_write(struct tcp_ring *r, const void *src, uint32_t len)
{
    uint32_t n = tcp_ring_space(r) < len ? tcp_ring_space(r) : len;
    if (n)
        copy_in(r, r->head + r->len, src, n);
    r->len += n;
    return n;
}

void tcp_ring_put_at(struct tcp_ring *r, uint32_t off, const void *src, uint32_t len)
{
    if (len)
        copy_in(r, r->head + r->len + off, src, len);
}

void tcp_ring_pieces(const struct tcp_ring *r, uint32_t off, uint32_t len, const uint8_t *p[2], uint32_t n[2])
{
    uint32_t pos = r->cap ? (r->head + off) % r->cap : 0;
    n[0] = r->cap - pos < len ? r->cap - pos : len;
    n[1] = len - n[0];
    p[0] = r->data + pos;
    p[1] = r->data;
}

void tcp_ring_peek(const struct tcp_ring *r, uint32_t off, void *dst, uint32_t len)
{
    const uint8_t *p[2];
    uint32_t n[2];
    tcp_ring_pieces(r, off, len, p, n);
    memcpy(dst, p[0], n[0]);
    memcpy((uint8_t *)dst + n[0], p[1], n[1]);
}

void tcp_ring_drop(struct tcp_ring *r, uint32_t len)
{
    /* head keeps its place even when the ring empties: bytes that came out
     * of order may already sit past the end (tcp_ring_put_at). */
    if (!len)
        return; /* also for a ring already given back (cap 0) */
    r->head = (r->head + len) % r->cap;
    r->len -= len;
}
