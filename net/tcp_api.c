/* TCP's control blocks and the application's side: listen, accept,
 * connect, read, write, shutdown, close, abort; the demultiplexing table;
 * the end of a connection. */
#include "lwt_errno.h"
#include "tcp_internal.h"

struct log_source tcp__log = LOG_SOURCE("tcp");

#define EPHEMERAL_FIRST 49152

const char *tcp__state_name(int state)
{
    static const char *const names[] = {"CLOSED",      "LISTEN",     "SYN_SENT",   "SYN_RECEIVED",
                                        "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT",
                                        "CLOSING",     "LAST_ACK",   "TIME_WAIT"};
    return state >= 0 && state <= TCP_TIME_WAIT ? names[state] : "?";
}

struct tcp_state_all *tcp__all(struct net_stack *s)
{
    return s->tcp;
}

int tcp__init(struct net_stack *s);
int tcp__init(struct net_stack *s)
{
    struct tcp_state_all *t = malloc(sizeof *t);
    if (!t)
        return -LWT_ENOMEM;
    memset(t, 0, sizeof *t);
    /* The ISN key starts from our MAC and the clock; net_stack_seed mixes
     * in the platform's entropy. */
    for (size_t i = 0; i < sizeof t->secret; i++)
        t->secret[i] = (uint8_t)(s->nif->mac[i % 6] ^ (sched_now() >> (i % 8 * 8)) ^ (i * 0x9d));
    t->next_port = (uint16_t)(EPHEMERAL_FIRST + (t->secret[0] << 8 | t->secret[1]) % (65536 - EPHEMERAL_FIRST));
    s->tcp = t;
    return 0;
}

void tcp__seed(struct net_stack *s, const void *bytes, size_t len)
{
    struct tcp_state_all *t = s->tcp;
    const uint8_t *b = bytes;
    for (size_t i = 0; i < len; i++)
        t->secret[i % sizeof t->secret] ^= b[i];
    t->next_port = (uint16_t)(EPHEMERAL_FIRST + (t->secret[0] << 8 | t->secret[1]) % (65536 - EPHEMERAL_FIRST));
}

const struct tcp_stats *tcp_stats(const struct net_stack *s)
{
    return &s->tcp->stats;
}

size_t tcp_memory_in_use(const struct net_stack *s)
{
    return s->tcp->memory;
}

void tcp_set_memory_limit(struct net_stack *s, size_t bytes)
{
    s->tcp->memory_limit = bytes;
}

/* ---- Control blocks -------------------------------------------------------- */

static unsigned hash_of(uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
    uint32_t h = laddr * 2654435761u ^ raddr * 40503u ^ (uint32_t)lport << 16 ^ rport;
    h ^= h >> 15;
    return h % TCP_HASH_SIZE;
}

static void options_fill(struct tcp_options *o, const struct tcp_options *in)
{
    *o = in ? *in : (struct tcp_options){0};
    if (!o->sndbuf)
        o->sndbuf = TCP_DEFAULT_BUF;
    if (!o->rcvbuf)
        o->rcvbuf = TCP_DEFAULT_BUF;
    if (o->sndbuf > TCP_MAX_BUF)
        o->sndbuf = TCP_MAX_BUF;
    if (o->rcvbuf > TCP_MAX_BUF)
        o->rcvbuf = TCP_MAX_BUF;
    if (o->sndbuf < 4096)
        o->sndbuf = 4096;
    if (o->rcvbuf < 4096)
        o->rcvbuf = 4096;
    if (!o->keepidle_s)
        o->keepidle_s = 7200;
    if (!o->keepintvl_s)
        o->keepintvl_s = 75;
    if (!o->keepcnt)
        o->keepcnt = 9;
}

struct tcp_pcb *tcp__pcb_new(struct net_stack *s, const struct tcp_options *opts)
{
    struct tcp_state_all *t = tcp__all(s);
    struct tcp_pcb *p = malloc(sizeof *p);
    if (!p)
        return NULL;
    memset(p, 0, sizeof *p);
    p->stack = s;
    options_fill(&p->opts, opts);
    p->mss = (uint16_t)(s->nif->mtu - IP4_HDR_MIN - TCP_HDR_MIN);
    /* The smallest scale that lets the window cover the whole buffer. */
    while (p->rcv_wscale < TCP_MAX_WSCALE && (p->opts.rcvbuf >> p->rcv_wscale) > 0xffff)
        p->rcv_wscale++;
    p->rto = TCP_RTO_INIT_NS;
    p->cwnd = 10u * p->mss; /* RFC 6928 */
    p->ssthresh = UINT32_MAX;
    p->next = t->pcbs;
    if (t->pcbs)
        t->pcbs->prev = p;
    t->pcbs = p;
    t->stats.conns++;
    t->memory += sizeof *p;
    return p;
}

void tcp__pcb_hash(struct tcp_pcb *p)
{
    struct tcp_state_all *t = tcp__all(p->stack);
    unsigned h = hash_of(p->local_addr, p->local_port, p->remote_addr, p->remote_port);
    p->hnext = t->hash[h];
    t->hash[h] = p;
}

static void pcb_unhash(struct tcp_pcb *p)
{
    struct tcp_state_all *t = tcp__all(p->stack);
    unsigned h = hash_of(p->local_addr, p->local_port, p->remote_addr, p->remote_port);
    for (struct tcp_pcb **link = &t->hash[h]; *link; link = &(*link)->hnext) {
        if (*link == p) {
            *link = p->hnext;
            break;
        }
    }
    p->hnext = NULL;
}

struct tcp_pcb *tcp__pcb_find(struct net_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
    for (struct tcp_pcb *p = tcp__all(s)->hash[hash_of(laddr, lport, raddr, rport)]; p; p = p->hnext)
        if (p->local_port == lport && p->remote_port == rport && p->remote_addr == raddr && p->local_addr == laddr)
            return p;
    return NULL;
}

struct tcp_listener *tcp__listener_find(struct net_stack *s, uint16_t port)
{
    for (struct tcp_listener *l = tcp__all(s)->listeners; l; l = l->next)
        if (l->port == port)
            return l;
    return NULL;
}

static int buffers_init(struct tcp_pcb *p)
{
    if (p->sndbuf.data)
        return 0;
    struct tcp_state_all *t = tcp__all(p->stack);
    size_t need = (size_t)p->opts.sndbuf + p->opts.rcvbuf;
    if (t->memory_limit && (t->memory > t->memory_limit || need > t->memory_limit - t->memory)) {
        t->stats.mem_refused++;
        return -LWT_ENOBUFS;
    }
    if (tcp_ring_init(&p->sndbuf, p->opts.sndbuf) < 0 || tcp_ring_init(&p->rcvbuf, p->opts.rcvbuf) < 0) {
        tcp_ring_free(&p->sndbuf);
        tcp_ring_free(&p->rcvbuf);
        return -LWT_ENOMEM;
    }
    tcp__all(p->stack)->memory += p->opts.sndbuf + p->opts.rcvbuf;
    return 0;
}

/* ---- Waiters: inside their promises (see struct tcp_wait) ------------------- */

static lwt_resolver_t **waiter_slot(struct tcp_pcb *p, int kind, struct tcp_wait ***wait)
{
    switch (kind) {
    case TCP_WAIT_READ:
        *wait = &p->read_wait;
        return &p->reader;
    case TCP_WAIT_WRITE:
        *wait = &p->write_wait;
        return &p->writer;
    default:
        *wait = &p->connect_wait;
        return &p->connecter;
    }
}

static lwt_resolver_t *take(struct tcp_pcb *p, int kind)
{
    struct tcp_wait **wait;
    lwt_resolver_t **r = waiter_slot(p, kind, &wait);
    lwt_resolver_t *res = *r;
    if (*wait)
        (*wait)->pcb = NULL;
    *r = NULL;
    *wait = NULL;
    return res;
}

static void wait_settled(struct lwt_hook *hook, lwt_t *promise)
{
    struct tcp_wait *w = (struct tcp_wait *)hook;
    struct tcp_pcb *p = w->pcb;
    if (p) {
        /* Cancelled while the pcb held it. */
        int kind = w->kind;
        lwt_resolver_drop(take(p, kind));
        if (kind == TCP_WAIT_CONNECT) {
            p->has_handle = false;
            if (p->state == TCP_SYN_SENT)
                tcp__pcb_done(p, -LWT_ECANCELED);
            else
                tcp_abort((struct tcp_conn *)p);
        }
    } else if (w->kind == TCP_WAIT_CONNECT && w->buf && lwt_state(promise) != LWT_FULFILLED) {
        /* The connection was handed over, but the promise was cancelled
         * before the hand-over ran: nobody holds it. */
        tcp_abort((struct tcp_conn *)w->buf);
    }
}

static lwt_t *wait_for(struct tcp_pcb *p, int kind, uint8_t *buf, uint32_t len, uint32_t done)
{
    struct tcp_wait *w;
    struct tcp_wait **slot;
    lwt_resolver_t **r = waiter_slot(p, kind, &slot);
    lwt_t *promise = lwt_task_with(r, sizeof *w, (void **)&w);
    *w = (struct tcp_wait){.pcb = p, .kind = kind, .buf = buf, .len = len, .done = done};
    *slot = w;
    lwt_hook_attach(promise, &w->hook, wait_settled);
    return promise;
}

static void fail_waiters(struct tcp_pcb *p, int err)
{
    for (int kind = TCP_WAIT_READ; kind <= TCP_WAIT_CONNECT; kind++) {
        struct tcp_wait **slot;
        if (*waiter_slot(p, kind, &slot))
            lwt_wakeup_fail_later(take(p, kind), err);
    }
}

/* ---- The end of a connection ----------------------------------------------- */

static void pcb_free(struct tcp_pcb *p)
{
    struct tcp_state_all *t = tcp__all(p->stack);
    tcp__timer_stop(p);
    pcb_unhash(p);
    if (p->prev)
        p->prev->next = p->next;
    else
        t->pcbs = p->next;
    if (p->next)
        p->next->prev = p->prev;
    if (p->listener) {
        struct tcp_listener *l = p->listener;
        if (p->in_accept_queue) {
            for (struct tcp_pcb **link = &l->accept_head; *link; link = &(*link)->qnext) {
                if (*link == p) {
                    *link = p->qnext;
                    if (l->accept_tail == &p->qnext)
                        l->accept_tail = link;
                    break;
                }
            }
            l->accept_len--;
        } else {
            l->syn_queued--;
        }
    }
    while (p->ooo) {
        struct tcp_ooo *o = p->ooo;
        p->ooo = o->next;
        free(o);
        t->memory -= sizeof *o;
    }
    if (p->sndbuf.data)
        t->memory -= p->opts.sndbuf + p->opts.rcvbuf;
    tcp_ring_free(&p->sndbuf);
    tcp_ring_free(&p->rcvbuf);
    if (p->state == TCP_TIME_WAIT)
        t->stats.time_wait--;
    t->stats.conns--;
    t->memory -= sizeof *p;
    free(p);
}

void tcp__pcb_done(struct tcp_pcb *p, int err)
{
    if (err && !p->error)
        p->error = err;
    if (p->state == TCP_TIME_WAIT)
        tcp__all(p->stack)->stats.time_wait--;
    p->state = TCP_CLOSED;
    p->rto_at = p->delack_at = p->persist_at = p->keep_at = p->wait_at = 0;
    tcp__timer_stop(p);
    if (p->connecter)
        lwt_wakeup_fail_later(take(p, TCP_WAIT_CONNECT), err ? err : -LWT_ECONNRESET);
    if (p->has_handle) {
        /* The application still holds it: a closed pcb that answers
         * nothing until tcp_close. Unread data stays readable after a
         * normal end; a reader or writer waiting now learns why. */
        pcb_unhash(p);
        if (p->writer)
            lwt_wakeup_fail_later(take(p, TCP_WAIT_WRITE), err ? err : -LWT_EPIPE);
        tcp__wake_reader(p);
        return;
    }
    fail_waiters(p, err ? err : -LWT_ECONNRESET);
    p->state = TCP_CLOSED; /* pcb_free must not count it as TIME_WAIT */
    pcb_free(p);
}

/* A connection in TIME_WAIT that nobody holds will never read or write
 * again: its buffers go now, so the TIME_WAIT bound bounds memory too. */
static void release_buffers(struct tcp_pcb *p)
{
    struct tcp_state_all *t = tcp__all(p->stack);
    if (!p->sndbuf.data)
        return;
    t->memory -= p->opts.sndbuf + p->opts.rcvbuf;
    tcp_ring_free(&p->sndbuf);
    tcp_ring_free(&p->rcvbuf);
}

void tcp__enter_time_wait(struct tcp_pcb *p)
{
    struct tcp_state_all *t = tcp__all(p->stack);
    if (!p->has_handle && !p->ooo)
        release_buffers(p);
    p->state = TCP_TIME_WAIT;
    t->stats.time_wait++;
    p->rto_at = p->persist_at = p->keep_at = p->delack_at = 0;
    p->wait_at = sched_now() + TCP_TIME_WAIT_NS;
    tcp__wake_reader(p);
    if (t->stats.time_wait > TCP_MAX_TIME_WAIT) {
        /* Past the bound, the oldest TIME_WAIT without a handle goes. */
        struct tcp_pcb *oldest = NULL;
        for (struct tcp_pcb *q = t->pcbs; q; q = q->next)
            if (q->state == TCP_TIME_WAIT && !q->has_handle && q != p && (!oldest || q->wait_at < oldest->wait_at))
                oldest = q;
        if (oldest)
            tcp__pcb_done(oldest, 0);
    }
    tcp__timer_update(p);
}

/* ---- Established ------------------------------------------------------------ */

bool tcp__established(struct tcp_pcb *p)
{
    struct tcp_state_all *t = tcp__all(p->stack);
    p->last_recv = sched_now();
    int rc = buffers_init(p);
    if (rc < 0) {
        tcp__send_rst(p);
        tcp__pcb_done(p, rc);
        return false;
    }
    if (p->opts.keepalive)
        p->keep_at = sched_now() + (uint64_t)p->opts.keepidle_s * SCHED_NS_PER_S;
    if (p->connecter) {
        p->has_handle = true;
        struct tcp_wait *w = p->connect_wait;
        w->buf = (uint8_t *)p; /* handed over: see wait_settled */
        lwt_wakeup_later(take(p, TCP_WAIT_CONNECT), p);
        return true;
    }
    struct tcp_listener *l = p->listener;
    if (!l)
        return true;
    l->syn_queued--;
    if (l->acceptor) {
        p->listener = NULL;
        p->has_handle = true;
        struct tcp_wait *w = l->accept_wait;
        w->buf = (uint8_t *)p;
        w->pcb = NULL;
        lwt_resolver_t *r = l->acceptor;
        l->acceptor = NULL;
        l->accept_wait = NULL;
        lwt_wakeup_later(r, p);
        return true;
    }
    if (l->accept_len >= (unsigned)l->backlog) {
        t->stats.accept_overflow++;
        p->listener = NULL;
        tcp__send_rst(p);
        tcp__pcb_done(p, -LWT_ECONNREFUSED);
        return false;
    }
    p->in_accept_queue = true;
    p->qnext = NULL;
    *l->accept_tail = p;
    l->accept_tail = &p->qnext;
    l->accept_len++;
    return true;
}

/* ---- Listening ---------------------------------------------------------------- */

static void accept_settled(struct lwt_hook *hook, lwt_t *promise)
{
    struct tcp_wait *w = (struct tcp_wait *)hook;
    struct tcp_listener *l = (struct tcp_listener *)w->pcb;
    if (l) {
        lwt_resolver_t *r = l->acceptor;
        l->acceptor = NULL;
        l->accept_wait = NULL;
        lwt_resolver_drop(r);
    } else if (w->buf && lwt_state(promise) != LWT_FULFILLED) {
        tcp_abort((struct tcp_conn *)w->buf);
    }
}

int tcp_listen(struct net_stack *s, uint16_t port, int backlog, const struct tcp_options *opts,
               struct tcp_listener **out)
{
    struct tcp_state_all *t = tcp__all(s);
    if (backlog < 1 || backlog > 1024)
        return -LWT_EINVAL;
    if (port == 0) {
        for (unsigned tries = 0; tries < 65536 - EPHEMERAL_FIRST && !port; tries++) {
            uint16_t c = t->next_port;
            t->next_port = c == 65535 ? EPHEMERAL_FIRST : (uint16_t)(c + 1);
            if (!tcp__listener_find(s, c))
                port = c;
        }
    }
    if (!port || tcp__listener_find(s, port))
        return -LWT_EADDRINUSE;
    struct tcp_listener *l = malloc(sizeof *l);
    if (!l)
        return -LWT_ENOMEM;
    memset(l, 0, sizeof *l);
    l->stack = s;
    l->port = port;
    l->backlog = backlog;
    options_fill(&l->opts, opts);
    l->accept_tail = &l->accept_head;
    l->next = t->listeners;
    t->listeners = l;
    t->memory += sizeof *l;
    *out = l;
    return 0;
}

uint16_t tcp_listener_port(const struct tcp_listener *l)
{
    return l->port;
}

lwt_t *tcp_accept(struct tcp_listener *l)
{
    if (l->acceptor)
        return lwt_fail(LWT_EBUSY);
    struct tcp_pcb *p = l->accept_head;
    if (p) {
        l->accept_head = p->qnext;
        if (!l->accept_head)
            l->accept_tail = &l->accept_head;
        l->accept_len--;
        p->in_accept_queue = false;
        p->listener = NULL;
        p->has_handle = true;
        return lwt_return(p);
    }
    struct tcp_wait *w;
    lwt_t *promise = lwt_task_with(&l->acceptor, sizeof *w, (void **)&w);
    *w = (struct tcp_wait){.pcb = (struct tcp_pcb *)l, .kind = TCP_WAIT_CONNECT};
    l->accept_wait = w;
    lwt_hook_attach(promise, &w->hook, accept_settled);
    return promise;
}

void tcp_listener_close(struct tcp_listener *l)
{
    struct tcp_state_all *t = tcp__all(l->stack);
    if (l->acceptor) {
        lwt_resolver_t *r = l->acceptor;
        l->accept_wait->pcb = NULL;
        l->acceptor = NULL;
        l->accept_wait = NULL;
        lwt_wakeup_fail_later(r, -LWT_ESHUTDOWN);
    }
    /* Half-open and queued connections go with it. */
    for (struct tcp_pcb *p = t->pcbs, *next; p; p = next) {
        next = p->next;
        if (p->listener == l) {
            tcp__send_rst(p);
            tcp__pcb_done(p, -LWT_ECONNRESET);
        }
    }
    for (struct tcp_listener **link = &t->listeners; *link; link = &(*link)->next) {
        if (*link == l) {
            *link = l->next;
            break;
        }
    }
    t->memory -= sizeof *l;
    free(l);
}

/* ---- Connecting ------------------------------------------------------------ */

lwt_t *tcp_connect(struct net_stack *s, uint32_t dst, uint16_t dport, const struct tcp_options *opts)
{
    struct tcp_state_all *t = tcp__all(s);
    uint32_t src = s->cfg.addr;
    if (!src)
        return lwt_fail(LWT_EADDRNOTAVAIL);
    if (!dst || dst == IP4_BROADCAST || !dport)
        return lwt_fail(LWT_EINVAL);
    if (t->stats.conns >= TCP_MAX_CONNS)
        return lwt_fail(LWT_ENOBUFS);
    uint16_t port = 0;
    for (unsigned tries = 0; tries < 65536 - EPHEMERAL_FIRST && !port; tries++) {
        uint16_t c = t->next_port;
        t->next_port = c == 65535 ? EPHEMERAL_FIRST : (uint16_t)(c + 1);
        if (!tcp__listener_find(s, c) && !tcp__pcb_find(s, src, c, dst, dport))
            port = c;
    }
    if (!port)
        return lwt_fail(LWT_EADDRINUSE);
    struct tcp_pcb *p = tcp__pcb_new(s, opts);
    if (!p)
        return lwt_fail(LWT_ENOMEM);
    p->local_addr = src;
    p->local_port = port;
    p->remote_addr = dst;
    p->remote_port = dport;
    p->state = TCP_SYN_SENT;
    p->iss = tcp__isn(s, src, port, dst, dport);
    p->snd_una = p->snd_nxt = p->snd_max = p->recover = p->iss;
    tcp__pcb_hash(p);
    lwt_t *promise = wait_for(p, TCP_WAIT_CONNECT, NULL, 0, 0);
    tcp__send_syn(p);
    tcp__arm_rto(p);
    tcp__timer_update(p);
    return promise;
}

/* ---- Reading and writing ---------------------------------------------------- */

/* After the application read: tell the peer if the window opened a lot. */
static void window_update(struct tcp_pcb *p)
{
    if (p->state == TCP_CLOSED || p->state == TCP_SYN_SENT || p->fin_received)
        return;
    uint32_t edge = p->rcv_nxt + tcp__rcv_wnd(p);
    uint32_t step = 2u * p->mss < p->rcvbuf.cap / 2 ? 2u * p->mss : p->rcvbuf.cap / 2;
    if (seq_ge(edge, p->rcv_adv + step))
        tcp__send_ack(p);
}

static uint32_t read_out(struct tcp_pcb *p, uint8_t *buf, uint32_t len)
{
    uint32_t n = p->rcvbuf.len < len ? p->rcvbuf.len : len;
    tcp_ring_peek(&p->rcvbuf, 0, buf, n);
    tcp_ring_drop(&p->rcvbuf, n);
    return n;
}

void tcp__wake_reader(struct tcp_pcb *p)
{
    struct tcp_wait *w = p->read_wait;
    if (!p->reader)
        return;
    if (p->rcvbuf.len) {
        uint32_t n = read_out(p, w->buf, w->len);
        lwt_wakeup_later(take(p, TCP_WAIT_READ), LWT_INT(n));
        window_update(p);
    } else if (p->fin_received || (p->state == TCP_CLOSED && !p->error)) {
        lwt_wakeup_later(take(p, TCP_WAIT_READ), LWT_INT(0));
    } else if (p->error) {
        lwt_wakeup_fail_later(take(p, TCP_WAIT_READ), p->error);
    }
}

lwt_t *tcp_read(struct tcp_conn *c, void *buf, size_t len)
{
    struct tcp_pcb *p = (struct tcp_pcb *)c;
    if (p->reader)
        return lwt_fail(LWT_EBUSY);
    if (len == 0)
        return lwt_return(LWT_INT(0));
    uint32_t want = len > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)len;
    if (p->rcvbuf.len) {
        uint32_t n = read_out(p, buf, want);
        window_update(p);
        return lwt_return(LWT_INT(n));
    }
    if (p->fin_received || (p->state == TCP_CLOSED && !p->error))
        return lwt_return(LWT_INT(0));
    if (p->error)
        return lwt_fail(p->error);
    return wait_for(p, TCP_WAIT_READ, buf, want, 0);
}

static bool may_write(const struct tcp_pcb *p)
{
    return (p->state == TCP_ESTABLISHED || p->state == TCP_CLOSE_WAIT) && !p->fin_queued;
}

void tcp__wake_writer(struct tcp_pcb *p)
{
    struct tcp_wait *w = p->write_wait;
    if (!p->writer)
        return;
    if (!may_write(p)) {
        lwt_wakeup_fail_later(take(p, TCP_WAIT_WRITE), p->error ? p->error : -LWT_EPIPE);
        return;
    }
    w->done += tcp_ring_write(&p->sndbuf, w->buf + w->done, w->len - w->done);
    if (w->done == w->len)
        lwt_wakeup_later(take(p, TCP_WAIT_WRITE), LWT_INT(w->len));
}

lwt_t *tcp_write(struct tcp_conn *c, const void *buf, size_t len)
{
    struct tcp_pcb *p = (struct tcp_pcb *)c;
    if (p->writer)
        return lwt_fail(LWT_EBUSY);
    if (!may_write(p))
        return lwt_fail(p->error ? p->error : -LWT_EPIPE);
    if (len > INT32_MAX)
        return lwt_fail(LWT_EINVAL);
    uint32_t done = tcp_ring_write(&p->sndbuf, buf, (uint32_t)len);
    tcp__output(p);
    if (done == len)
        return lwt_return(LWT_INT(len));
    return wait_for(p, TCP_WAIT_WRITE, (uint8_t *)buf, (uint32_t)len, done);
}

/* ---- Closing -------------------------------------------------------------- */

static void queue_fin(struct tcp_pcb *p)
{
    if (p->fin_queued)
        return;
    p->fin_queued = true;
    if (p->state == TCP_ESTABLISHED || p->state == TCP_SYN_RECEIVED)
        p->state = TCP_FIN_WAIT_1;
    else if (p->state == TCP_CLOSE_WAIT)
        p->state = TCP_LAST_ACK;
    tcp__output(p);
}

lwt_t *tcp_shutdown(struct tcp_conn *c)
{
    struct tcp_pcb *p = (struct tcp_pcb *)c;
    if (p->state == TCP_CLOSED)
        return lwt_fail(p->error ? p->error : -LWT_ENOTCONN);
    if (p->writer)
        lwt_wakeup_fail_later(take(p, TCP_WAIT_WRITE), -LWT_EPIPE);
    queue_fin(p);
    return lwt_return(NULL);
}

void tcp_close(struct tcp_conn *c)
{
    struct tcp_pcb *p = (struct tcp_pcb *)c;
    p->has_handle = false;
    fail_waiters(p, -LWT_ECANCELED);
    if (p->state == TCP_CLOSED) {
        tcp__pcb_done(p, 0);
        return;
    }
    if (p->rcvbuf.len || p->ooo) {
        /* Unread data: the peer must learn it was not all read (RFC 9293
         * §3.6.1 allows, Linux does so). */
        tcp_abort(c);
        return;
    }
    queue_fin(p);
    if (p->state == TCP_FIN_WAIT_2)
        p->wait_at = sched_now() + TCP_FIN_WAIT_2_NS;
    if (p->state == TCP_TIME_WAIT)
        release_buffers(p);
    tcp__timer_update(p);
}

void tcp_abort(struct tcp_conn *c)
{
    struct tcp_pcb *p = (struct tcp_pcb *)c;
    p->has_handle = false;
    if (p->state != TCP_CLOSED && p->state != TCP_SYN_SENT && p->state != TCP_TIME_WAIT)
        tcp__send_rst(p);
    fail_waiters(p, -LWT_ECANCELED);
    tcp__pcb_done(p, -LWT_ECONNRESET);
}

void tcp_set_nodelay(struct tcp_conn *c, bool on)
{
    struct tcp_pcb *p = (struct tcp_pcb *)c;
    p->opts.nodelay = on;
    if (on)
        tcp__output(p);
}

void tcp_set_keepalive(struct tcp_conn *c, bool on)
{
    struct tcp_pcb *p = (struct tcp_pcb *)c;
    p->opts.keepalive = on;
    p->keep_at = on && p->state == TCP_ESTABLISHED ? sched_now() + (uint64_t)p->opts.keepidle_s * SCHED_NS_PER_S : 0;
    tcp__timer_update(p);
}

void tcp_conn_endpoints(const struct tcp_conn *c, struct tcp_endpoints *out)
{
    const struct tcp_pcb *p = (const struct tcp_pcb *)c;
    *out = (struct tcp_endpoints){p->local_addr, p->remote_addr, p->local_port, p->remote_port};
}

/* ---- The stack goes away ------------------------------------------------------ */

void tcp__destroy(struct net_stack *s)
{
    struct tcp_state_all *t = tcp__all(s);
    if (!t)
        return;
    while (t->listeners)
        tcp_listener_close(t->listeners);
    while (t->pcbs) {
        struct tcp_pcb *p = t->pcbs;
        p->has_handle = false;
        fail_waiters(p, -LWT_ESHUTDOWN);
        tcp__pcb_done(p, -LWT_ESHUTDOWN);
    }
    free(t);
    s->tcp = NULL;
}
