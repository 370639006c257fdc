/* IPv4 reassembly (RFC 791, RFC 815's idea with a bitmap): fragments are
 * copied into a buffer per datagram that grows as they arrive, and a bitmap
 * of 8-byte blocks says what is there. Bounded: NET_REASM_MAX datagrams and
 * NET_REASM_BYTES_MAX bytes at once (a fragment that would pass either is
 * dropped), and IP4_REASM_TIMEOUT_NS from the first fragment, after which
 * the datagram is dropped. Overlaps are accepted, the newest bytes winning.
 */
#include "lwt_errno.h"
#include "scheduler.h"
#include "stack_internal.h"

#define BLOCKS (IP4_MAX_PACKET / 8 + 1)

struct ip4_reasm_entry {
    struct ip4_reasm_entry *next;
    struct net_stack *stack;
    uint32_t src, dst;
    uint16_t id;
    uint8_t proto;
    uint32_t total;      /* payload length, once the last fragment is in; else 0 */
    uint32_t have;       /* blocks present */
    uint32_t max_end;    /* the furthest byte any fragment reached */
    struct net_buf *buf; /* the payload so far */
    struct net_timer timer;
    uint8_t bitmap[(BLOCKS + 7) / 8];
};

static void entry_free(struct net_stack *s, struct ip4_reasm_entry *e)
{
    struct ip4_reasm *r = &s->reasm;
    for (struct ip4_reasm_entry **link = &r->list; *link; link = &(*link)->next) {
        if (*link == e) {
            *link = e->next;
            break;
        }
    }
    r->count--;
    if (e->buf) {
        r->bytes -= e->buf->cap;
        net_buf_unref(e->buf);
    }
    net_timer_stop(&e->timer);
    free(e);
}

void ip4_reasm__destroy(struct net_stack *s)
{
    while (s->reasm.list)
        entry_free(s, s->reasm.list);
}

static void expired(void *arg)
{
    struct ip4_reasm_entry *e = arg;
    e->stack->stats.reasm_timeout++;
    entry_free(e->stack, e);
}

static struct ip4_reasm_entry *find_or_add(struct net_stack *s, const struct ip4_hdr *h)
{
    struct ip4_reasm *r = &s->reasm;
    for (struct ip4_reasm_entry *e = r->list; e; e = e->next)
        if (e->src == h->src && e->dst == h->dst && e->id == h->id && e->proto == h->proto)
            return e;
    if (r->count >= NET_REASM_MAX)
        return NULL;
    struct ip4_reasm_entry *e = malloc(sizeof *e);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    e->stack = s;
    e->src = h->src;
    e->dst = h->dst;
    e->id = h->id;
    e->proto = h->proto;
    e->next = r->list;
    r->list = e;
    r->count++;
    if (net_timer_start(&e->timer, sched_now() + IP4_REASM_TIMEOUT_NS, expired, e) < 0) {
        entry_free(s, e);
        return NULL;
    }
    return e;
}

/* Marks 8-byte blocks [first, end) present, counting the new ones; a byte
 * of the bitmap at a time where it can. */
static void mark_blocks(struct ip4_reasm_entry *e, size_t first, size_t end)
{
    size_t b = first;
    while (b < end && b % 8) {
        uint8_t bit = (uint8_t)(1u << (b % 8));
        e->have += !(e->bitmap[b / 8] & bit);
        e->bitmap[b / 8] |= bit;
        b++;
    }
    for (; b + 8 <= end; b += 8) {
        e->have += 8 - (uint32_t)__builtin_popcount(e->bitmap[b / 8]);
        e->bitmap[b / 8] = 0xff;
    }
    for (; b < end; b++) {
        uint8_t bit = (uint8_t)(1u << (b % 8));
        e->have += !(e->bitmap[b / 8] & bit);
        e->bitmap[b / 8] |= bit;
    }
}

/* Makes room for payload bytes up to `end`; false past the memory bound. */
static bool reserve(struct net_stack *s, struct ip4_reasm_entry *e, size_t end)
{
    size_t cap = e->buf ? e->buf->cap : 0;
    if (end <= cap)
        return true;
    size_t want = cap ? cap : 2048;
    while (want < end)
        want *= 2;
    if (want > IP4_MAX_PACKET)
        want = IP4_MAX_PACKET;
    if (s->reasm.bytes - cap + want > NET_REASM_BYTES_MAX)
        return false;
    struct net_buf *b = net_buf_new(want);
    if (!b)
        return false;
    if (e->buf) {
        memcpy(b->data, e->buf->data, cap);
        net_buf_unref(e->buf);
    }
    s->reasm.bytes += want - cap;
    e->buf = b;
    return true;
}

int ip4_reasm__input(struct net_stack *s, const struct ip4_hdr *h, struct net_slice *pkt, struct net_slice *out)
{
    size_t off = h->frag_off;
    int rc = -LWT_EBADMSG;
    struct ip4_reasm_entry *e = NULL;
    /* The parser has checked these (and off + len <= 65535); said again so
     * that no length below can wrap. Every fragment but the last must carry
     * whole blocks; none may be empty. */
    if (h->total_len <= h->hlen || h->total_len > pkt->len)
        goto drop;
    size_t len = (size_t)h->total_len - h->hlen;
    if (len > IP4_MAX_PACKET - off || (h->mf && len % 8))
        goto drop;
    rc = -LWT_ENOBUFS;
    if (!(e = find_or_add(s, h)) || !reserve(s, e, off + len))
        goto drop;
    if (!h->mf) {
        if ((e->total && e->total != off + len) || e->max_end > off + len) {
            rc = -LWT_EBADMSG; /* two different ends: a lie */
            goto drop_entry;
        }
        e->total = (uint32_t)(off + len);
    }
    if (e->total && off + len > e->total) {
        rc = -LWT_EBADMSG;
        goto drop_entry;
    }
    memcpy(e->buf->data + off, net_slice_data(pkt) + h->hlen, len);
    if (off + len > e->max_end)
        e->max_end = (uint32_t)(off + len);
    mark_blocks(e, off / 8, (off + len + 7) / 8);
    net_slice_release(pkt);
    if (!e->total || e->have != (e->total + 7) / 8)
        return 0;
    *out = (struct net_slice){net_buf_ref(e->buf), 0, e->total};
    s->stats.reasm_ok++;
    entry_free(s, e);
    return 1;

drop_entry:
    entry_free(s, e);
drop:
    s->stats.reasm_dropped++;
    net_slice_release(pkt);
    return rc;
}
