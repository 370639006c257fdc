/* Packet memory (DESIGN.md §5): refcounted backing buffers, slices that
 * view part of one, and bounds-checked field access.
 *
 * A struct net_buf is storage with a count and a destructor: net_buf_new
 * mallocs one; a driver wraps its own memory (a tap read buffer, a granted
 * page on Xen) with net_buf_init and gets it back through the destructor.
 *
 * A struct net_slice views bytes [off, off + len) of a buffer. The bytes
 * before off are headroom: a layer on the send path pushes its header into
 * it in place (net_slice_push), a layer on the receive path pulls its header
 * off (net_slice_pull). Whether a slice owns a reference to its buffer is
 * said by each function that takes or returns one; "owned" means the
 * receiver must net_slice_release it (or pass it on).
 *
 * Reading a packet goes through struct net_rd: every read checks its bounds,
 * and a read past the end returns 0 and marks the reader bad, so a parser
 * reads its fields and checks once (DESIGN.md §5: a truncated or lying
 * packet yields an error code, never an out-of-bounds read). struct net_wr
 * does the same for writing headers.
 */
#ifndef TESSERA_NET_BUF_H
#define TESSERA_NET_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct net_buf;
typedef void (*net_buf_destroy_fn)(struct net_buf *b);

struct net_buf {
    uint32_t rc;                /* private: net_buf_ref / net_buf_unref */
    uint32_t cap;               /* ro: bytes at data */
    uint8_t *data;              /* ro */
    net_buf_destroy_fn destroy; /* ro: runs when the count reaches zero */
    void *owner;                /* rw: for the destructor */
};

/* A buffer of cap bytes (one malloc, the bytes follow the header), count 1.
 * NULL when memory is short. */
struct net_buf *net_buf_new(size_t cap);
/* Wraps caller-owned memory; count 1. destroy gets b back at the end. */
void net_buf_init(struct net_buf *b, uint8_t *data, size_t cap, net_buf_destroy_fn destroy, void *owner);
struct net_buf *net_buf_ref(struct net_buf *b);
/* NULL is ignored. */
void net_buf_unref(struct net_buf *b);
/* Buffers from net_buf_new still alive (tests check it returns to zero). */
size_t net_buf_live_count(void);

struct net_slice {
    struct net_buf *buf; /* NULL for the empty slice */
    uint32_t off;        /* headroom in front */
    uint32_t len;
};

/* A new buffer of headroom + len bytes viewed as an owned slice of len bytes
 * after `headroom`. Returns 0 or -LWT_ENOMEM. */
int net_slice_alloc(struct net_slice *s, size_t headroom, size_t len);
/* An owned slice over len bytes copied from data, with headroom. */
int net_slice_copy(struct net_slice *s, size_t headroom, const void *data, size_t len);
/* Drops the slice's reference and empties it. */
void net_slice_release(struct net_slice *s);
/* Another owned view of the same bytes (the count goes up). */
struct net_slice net_slice_share(const struct net_slice *s);

static inline uint8_t *net_slice_data(const struct net_slice *s)
{
    return s->buf ? s->buf->data + s->off : NULL;
}
static inline size_t net_slice_headroom(const struct net_slice *s)
{
    return s->off;
}
/* Grows the slice at the front by n bytes of headroom: 0, or -LWT_ENOBUFS
 * when there is not enough. */
int net_slice_push(struct net_slice *s, size_t n);
/* Drops n bytes from the front: 0, or -LWT_EBADMSG when the slice is shorter. */
int net_slice_pull(struct net_slice *s, size_t n);
/* Keeps the first len bytes: 0, or -LWT_EBADMSG when the slice is shorter. */
int net_slice_trim(struct net_slice *s, size_t len);

/* ---- Bounds-checked reads --------------------------------------------- */

struct net_rd {
    const uint8_t *p;
    size_t len;
    bool bad; /* set by any read past len */
};

static inline struct net_rd net_rd_of(const struct net_slice *s)
{
    return (struct net_rd){net_slice_data(s), s->len, false};
}
static inline struct net_rd net_rd_mem(const void *p, size_t len)
{
    return (struct net_rd){(const uint8_t *)p, len, false};
}
static inline bool net_rd_has(struct net_rd *r, size_t off, size_t n)
{
    if (off <= r->len && n <= r->len - off)
        return true;
    r->bad = true;
    return false;
}
static inline uint8_t net_u8(struct net_rd *r, size_t off)
{
    return net_rd_has(r, off, 1) ? r->p[off] : 0;
}
static inline uint16_t net_be16(struct net_rd *r, size_t off)
{
    return net_rd_has(r, off, 2) ? (uint16_t)(r->p[off] << 8 | r->p[off + 1]) : 0;
}
static inline uint32_t net_be32(struct net_rd *r, size_t off)
{
    if (!net_rd_has(r, off, 4))
        return 0;
    return (uint32_t)r->p[off] << 24 | (uint32_t)r->p[off + 1] << 16 | (uint32_t)r->p[off + 2] << 8 | r->p[off + 3];
}
/* Copies n bytes at off into dst (zeros it when out of range). */
static inline void net_rd_bytes(struct net_rd *r, size_t off, void *dst, size_t n)
{
    if (net_rd_has(r, off, n))
        memcpy(dst, r->p + off, n);
    else
        memset(dst, 0, n);
}

/* ---- Bounds-checked writes -------------------------------------------- */

struct net_wr {
    uint8_t *p;
    size_t len;
    bool bad; /* set by any write past len */
};

static inline struct net_wr net_wr_of(const struct net_slice *s)
{
    return (struct net_wr){net_slice_data(s), s->len, false};
}
static inline struct net_wr net_wr_mem(void *p, size_t len)
{
    return (struct net_wr){(uint8_t *)p, len, false};
}
static inline bool net_wr_has(struct net_wr *w, size_t off, size_t n)
{
    if (off <= w->len && n <= w->len - off)
        return true;
    w->bad = true;
    return false;
}
static inline void net_put_u8(struct net_wr *w, size_t off, uint8_t v)
{
    if (net_wr_has(w, off, 1))
        w->p[off] = v;
}
static inline void net_put_be16(struct net_wr *w, size_t off, uint16_t v)
{
    if (net_wr_has(w, off, 2)) {
        w->p[off] = (uint8_t)(v >> 8);
        w->p[off + 1] = (uint8_t)v;
    }
}
static inline void net_put_be32(struct net_wr *w, size_t off, uint32_t v)
{
    if (net_wr_has(w, off, 4)) {
        w->p[off] = (uint8_t)(v >> 24);
        w->p[off + 1] = (uint8_t)(v >> 16);
        w->p[off + 2] = (uint8_t)(v >> 8);
        w->p[off + 3] = (uint8_t)v;
    }
}
static inline void net_put_bytes(struct net_wr *w, size_t off, const void *src, size_t n)
{
    if (net_wr_has(w, off, n))
        memcpy(w->p + off, src, n);
}

#endif
