/* The HTTP/1.1 server: one promise chain accepts connections; each
 * connection is a chain of its own (read, parse, call the handler, write
 * the answer, and again), whose steps each return the next one's promise,
 * so a long keep-alive connection runs in constant memory.
 *
 * Every wait has a deadline: the head of a request must arrive within the
 * header timeout (counted from the connection's start for its first
 * request, from the first byte for later ones), the next request's first
 * byte within the idle timeout, and each body read and each slice of a
 * response write within the idle timeout too. A connection that closes
 * after its answer shuts its side down and reads what the client still
 * sends for a moment (lingering close), so that a RST does not destroy the
 * answer in flight. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "http_date.h"
#include "http_internal.h"
#include "http_parser.h"
#include "scheduler.h"

#define DEFAULT_BACKLOG         256
#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_HEADER_TIMEOUT  (10 * SCHED_NS_PER_S)
#define DEFAULT_IDLE_TIMEOUT    (60 * SCHED_NS_PER_S)
/* A body this small goes out with the head, in one write; a larger one is
 * written from the handler's memory, without a copy, in slices that each
 * must go within the idle timeout. */
#define INLINE_BODY_MAX (4 * 1024)
#define WRITE_SLICE     (256 * 1024)
/* The lingering close: what a closing connection still reads, and for how
 * long, before it gives up the flow. */
#define LINGER_NS    (2 * SCHED_NS_PER_S)
#define LINGER_BYTES (64 * 1024)
/* Connections past max_connections being told 503 at once; past this
 * many, a new one gets a RST. */
#define BUSY_MAX 64

struct http_conn;

struct http_server {
    struct http_server_config cfg; /* the defaults filled in */
    http_handler_fn handler;
    void *ctx;
    struct flow_listener *listener; /* NULL once stopping */
    struct http_conn *conns;
    unsigned live; /* chains not ended: connections, 503s, the accept loop */
    unsigned busy; /* 503s being written */
    bool stopping;
    lwt_resolver_t *drained; /* woken when live reaches 0 while stopping */
    lwt_t *stop_timer;       /* ends what is left when the grace time is up */
    struct http_server_stats stats;
};

struct http_conn {
    struct http_server *srv;
    struct flow *flow; /* NULL once given up */
    struct http_conn *prev, *next;
    struct flow_endpoint peer;
    bool busy;         /* told 503 only: no parser */
    bool idle;         /* waiting for a request's first byte */
    bool keep;         /* the connection stays open after this answer */
    bool head_started; /* the current request's first byte has arrived */
    uint64_t head_start, idle_start, deadline;
    uint64_t requests;
    uint64_t lingered;
    const struct http_request *req; /* being answered; NULL for a refusal */
    struct http_parser parser;
    struct http_response resp;
    /* The answer being written: head (and a small body) in out, then the
     * rest of the body from the handler's memory. */
    char *out;
    size_t out_len;
    const uint8_t *body;
    size_t body_len, body_done;
    uint64_t body_bytes; /* for the log */
};

struct cstep {
    struct http_conn *k;
};

static uint8_t discard[4096]; /* a sink for lingering reads: never read back */

static void log_answer(struct http_conn *k, int status, uint64_t bytes)
{
    struct http_server *srv = k->srv;
    if (status >= 500)
        srv->stats.status_5xx++;
    else if (status >= 400)
        srv->stats.status_4xx++;
    if (!srv->cfg.log)
        return;
    struct http_log_entry e = {
        .req = k->req,
        .peer = k->peer,
        .status = status,
        .bytes = bytes,
        .time = srv->cfg.clock ? wallclock_now_s(srv->cfg.clock) : 0,
    };
    srv->cfg.log(srv->cfg.log_ctx, &e);
}

/* ---- The end of a connection -------------------------------------------------- */

static void server_drained(struct http_server *srv)
{
    if (srv->stop_timer) {
        lwt_cancel(srv->stop_timer);
        lwt_unref(srv->stop_timer);
        srv->stop_timer = NULL;
    }
    lwt_resolver_t *r = srv->drained;
    srv->drained = NULL;
    if (r)
        lwt_wakeup(r, NULL); /* last: may free srv */
}

static void chain_ended(struct http_server *srv)
{
    srv->live--;
    if (srv->stopping && srv->live == 0)
        server_drained(srv);
}

static void conn_free(struct http_conn *k, bool reset)
{
    struct http_server *srv = k->srv;
    if (k->flow) {
        struct flow *f = k->flow;
        k->flow = NULL;
        if (reset)
            flow_abort(f);
        else
            flow_close(f);
    }
    if (k->prev)
        k->prev->next = k->next;
    else if (srv->conns == k)
        srv->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    if (k->busy)
        srv->busy--;
    else
        srv->stats.open--;
    http__response_release(&k->resp);
    http_parser_free(&k->parser);
    free(k->out);
    free(k);
    chain_ended(srv);
}

static lwt_t *conn_ended(void *v, void *ctx)
{
    (void)v;
    conn_free(((struct cstep *)ctx)->k, false);
    return lwt_return(NULL);
}

static lwt_t *conn_failed(int err, void *ctx)
{
    (void)err;
    /* A reset, a timeout, the stop: whatever is queued is not worth a FIN. */
    conn_free(((struct cstep *)ctx)->k, true);
    return lwt_return(NULL);
}

/* A step that needs the flow fails once it has been given up. */
static lwt_t *gone(void)
{
    return lwt_fail(-LWT_ECANCELED);
}

/* p, or -LWT_ETIMEDOUT at the connection's deadline. */
static lwt_t *by_deadline(struct http_conn *k, lwt_t *p, uint64_t deadline)
{
    k->deadline = deadline;
    uint64_t now = sched_now();
    return sched_with_timeout(p, deadline > now ? deadline - now : 0);
}

/* ---- Lingering close ----------------------------------------------------------- */

static lwt_t *linger_read(void *v, void *ctx);

static lwt_t *linger_got(void *v, void *ctx)
{
    struct http_conn *k = ((struct cstep *)ctx)->k;
    intptr_t n = LWT_TO_INT(v);
    if (n == 0)
        return lwt_return(NULL); /* the client closed too: a clean end */
    k->lingered += (uint64_t)n;
    return linger_read(NULL, ctx);
}

static lwt_t *linger_over(int err, void *ctx)
{
    (void)err, (void)ctx;
    return lwt_return(NULL); /* close; a RST if the client is still sending */
}

static lwt_t *linger_read(void *v, void *ctx)
{
    (void)v;
    struct http_conn *k = ((struct cstep *)ctx)->k;
    if (!k->flow)
        return gone();
    if (k->lingered >= LINGER_BYTES || sched_now() >= k->deadline)
        return lwt_return(NULL);
    lwt_t *r = sched_with_timeout(flow_read(k->flow, discard, sizeof discard), k->deadline - sched_now());
    return lwt_try_bind(r, linger_got, linger_over, ctx, sizeof(struct cstep));
}

static lwt_t *conn_finish(struct http_conn *k)
{
    if (!k->flow)
        return gone();
    struct cstep s = {k};
    k->deadline = sched_now() + LINGER_NS;
    k->lingered = 0;
    lwt_t *shut = lwt_catch(flow_shutdown(k->flow), linger_over, LWT_CTX(s));
    return lwt_bind(shut, linger_read, LWT_CTX(s));
}

/* ---- Writing an answer ----------------------------------------------------------- */

static lwt_t *conn_next(void *v, void *ctx);

static bool has_no_body(int status)
{
    return status < 200 || status == 204 || status == 304;
}

/* The head, and the body too when it is small: into k->out. */
static int build_answer(struct http_conn *k, bool head_only)
{
    struct http_server *srv = k->srv;
    struct http_response *r = &k->resp;
    if (r->status < 100 || r->status > 999)
        r->status = 500;
    int status = r->status;
    bool no_body = has_no_body(status);
    bool send_length = !no_body || (status == 304 && r->has_content_length_);
    uint64_t length = r->body_len_;
    if ((head_only || status == 304) && r->has_content_length_)
        length = r->content_length_;
    bool send_body = !no_body && !head_only && r->body_len_ > 0;
    size_t inline_body = send_body && r->body_len_ <= INLINE_BODY_MAX ? r->body_len_ : 0;
    /* An interim status as the final answer leaves the client waiting for
     * another: close after it; and after every answer once stopping. */
    if (status < 200 || srv->stopping)
        k->keep = false;

    const char *name = srv->cfg.server_name;
    size_t cap = 64 + HTTP_DATE_LEN + 16 + (name ? strlen(name) + 16 : 0) + r->headers_len_ + 64 + inline_body;
    char *out = malloc(cap);
    if (!out)
        return -LWT_ENOMEM;
    size_t n = (size_t)snprintf(out, cap, "HTTP/1.1 %d %s\r\n", status, http_reason(status));
    if (srv->cfg.clock) {
        char date[HTTP_DATE_LEN + 1];
        http_date_format(wallclock_now_s(srv->cfg.clock), date);
        n += (size_t)snprintf(out + n, cap - n, "Date: %s\r\n", date);
    }
    if (name)
        n += (size_t)snprintf(out + n, cap - n, "Server: %s\r\n", name);
    memcpy(out + n, r->headers_, r->headers_len_);
    n += r->headers_len_;
    if (send_length)
        n += (size_t)snprintf(out + n, cap - n, "Content-Length: %llu\r\n", (unsigned long long)length);
    if (!k->keep)
        n += (size_t)snprintf(out + n, cap - n, "Connection: close\r\n");
    else if (k->req && k->req->version == 10)
        n += (size_t)snprintf(out + n, cap - n, "Connection: keep-alive\r\n");
    memcpy(out + n, "\r\n", 2);
    n += 2;
    if (inline_body) {
        memcpy(out + n, r->body_, inline_body);
        n += inline_body;
    }
    k->out = out;
    k->out_len = n;
    k->body = send_body ? (const uint8_t *)r->body_ + inline_body : NULL;
    k->body_len = send_body ? r->body_len_ - inline_body : 0;
    k->body_done = 0;
    k->body_bytes = send_body ? r->body_len_ : 0;
    return 0;
}

/* The answer is out (or failed): give the body back, count and log it. */
static void answer_done(struct http_conn *k, bool sent)
{
    free(k->out);
    k->out = NULL;
    int status = k->resp.status;
    http__response_release(&k->resp);
    log_answer(k, status, sent ? k->body_bytes : 0);
}

static lwt_t *after_answer(void *v, void *ctx)
{
    (void)v;
    struct http_conn *k = ((struct cstep *)ctx)->k;
    answer_done(k, true);
    if (!k->keep) {
        /* Linger only where the client may still be sending (as nginx
         * does): after a refusal, or with bytes of a next request already
         * in. After a whole request it asked to end, a FIN at once: a
         * client that reconnects for every request must not hold a slot
         * for the lingering time. */
        bool quiet = k->req && (http_parser_next(&k->parser), !http_parser_started(&k->parser));
        return quiet ? lwt_return(NULL) : conn_finish(k); /* the chain's end closes the flow */
    }
    k->requests++;
    k->req = NULL;
    k->head_started = false;
    k->idle_start = sched_now();
    http_parser_next(&k->parser);
    if (http_parser_started(&k->parser)) {
        /* A pipelined request is here already: its head is on the clock. */
        k->head_started = true;
        k->head_start = k->idle_start;
    }
    return conn_next(NULL, ctx);
}

static lwt_t *answer_failed(int err, void *ctx)
{
    struct http_conn *k = ((struct cstep *)ctx)->k;
    if (err == -LWT_ETIMEDOUT && sched_now() >= k->deadline)
        k->srv->stats.timeouts++;
    answer_done(k, false);
    return lwt_fail(err);
}

static lwt_t *write_body(void *v, void *ctx)
{
    (void)v;
    struct http_conn *k = ((struct cstep *)ctx)->k;
    if (!k->flow)
        return gone();
    if (k->body_done == k->body_len)
        return lwt_return(NULL);
    size_t n = k->body_len - k->body_done < WRITE_SLICE ? k->body_len - k->body_done : WRITE_SLICE;
    const uint8_t *at = k->body + k->body_done;
    k->body_done += n;
    lwt_t *w = by_deadline(k, flow_write(k->flow, at, n), sched_now() + k->srv->cfg.idle_timeout_ns);
    return lwt_bind(w, write_body, ctx, sizeof(struct cstep));
}

/* Writes k->resp as the answer to k->req (NULL: a refusal of ours). */
static lwt_t *conn_answer(struct http_conn *k)
{
    struct cstep s = {k};
    if (!k->flow) {
        http__response_release(&k->resp);
        return gone();
    }
    bool head_only = k->req && k->req->method == HTTP_HEAD;
    if (build_answer(k, head_only) < 0) {
        answer_done(k, false);
        return lwt_fail(-LWT_ENOMEM);
    }
    lwt_t *w = by_deadline(k, flow_write(k->flow, k->out, k->out_len), sched_now() + k->srv->cfg.idle_timeout_ns);
    w = lwt_bind(w, write_body, LWT_CTX(s));
    return lwt_try_bind(w, after_answer, answer_failed, LWT_CTX(s));
}

/* A refusal of ours: the reason phrase as the body, and the connection
 * closes. */
static lwt_t *conn_refuse(struct http_conn *k, int status)
{
    const char *reason = http_reason(status);
    k->req = NULL;
    k->keep = false;
    http__response_init(&k->resp);
    k->resp.status = status;
    http_response_header(&k->resp, "Content-Type", "text/plain");
    http_response_body(&k->resp, reason, strlen(reason), NULL, NULL);
    k->srv->stats.requests++;
    return conn_answer(k);
}

/* ---- Calling the handler -------------------------------------------------------- */

static lwt_t *handled(void *v, void *ctx)
{
    (void)v;
    return conn_answer(((struct cstep *)ctx)->k);
}

static lwt_t *handler_failed(int err, void *ctx)
{
    (void)err;
    struct http_conn *k = ((struct cstep *)ctx)->k;
    http__response_release(&k->resp);
    http__response_init(&k->resp);
    k->resp.status = 500;
    return conn_answer(k);
}

static lwt_t *conn_request(struct http_conn *k)
{
    struct http_server *srv = k->srv;
    struct cstep s = {k};
    k->parser.req.peer = k->peer;
    k->req = http_parser_request(&k->parser);
    k->keep = k->req->keep_alive && !srv->stopping;
    srv->stats.requests++;
    http__response_init(&k->resp);
    lwt_t *h = srv->handler(srv->ctx, k->req, &k->resp);
    if (!h)
        h = lwt_fail(-LWT_EINVAL);
    return lwt_try_bind(h, handled, handler_failed, LWT_CTX(s));
}

/* ---- Reading ---------------------------------------------------------------------- */

static lwt_t *conn_got(void *v, void *ctx)
{
    struct http_conn *k = ((struct cstep *)ctx)->k;
    intptr_t n = LWT_TO_INT(v);
    k->idle = false;
    if (n == 0)
        return lwt_return(NULL); /* the client closed: so do we */
    if (!k->head_started) {
        k->head_started = true;
        k->head_start = k->requests ? sched_now() : k->head_start;
    }
    http_parser_commit(&k->parser, (size_t)n);
    return conn_next(NULL, ctx);
}

static lwt_t *conn_read_failed(int err, void *ctx)
{
    struct http_conn *k = ((struct cstep *)ctx)->k;
    k->idle = false;
    if (err != -LWT_ETIMEDOUT || sched_now() < k->deadline || !k->flow)
        return lwt_fail(err);
    k->srv->stats.timeouts++;
    if (!http_parser_started(&k->parser))
        return lwt_return(NULL); /* idle: nothing to answer, close */
    return conn_refuse(k, 408);
}

static lwt_t *conn_read(struct http_conn *k)
{
    struct http_server *srv = k->srv;
    struct cstep s = {k};
    if (!k->flow)
        return gone();
    uint64_t deadline;
    if (k->req)
        deadline = sched_now() + srv->cfg.idle_timeout_ns; /* the body */
    else if (k->head_started || k->requests == 0)
        deadline = k->head_start + srv->cfg.header_timeout_ns;
    else
        deadline = k->idle_start + srv->cfg.idle_timeout_ns;
    k->idle = !http_parser_started(&k->parser);
    if (k->idle && srv->stopping)
        return conn_finish(k);
    uint8_t *at;
    size_t room = http_parser_space(&k->parser, &at);
    lwt_t *r = by_deadline(k, flow_read(k->flow, at, room), deadline);
    return lwt_try_bind(r, conn_got, conn_read_failed, LWT_CTX(s));
}

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

/* The parser's verdict on what has arrived decides the next step. */
static lwt_t *conn_next(void *v, void *ctx)
{
    (void)v;
    struct http_conn *k = ((struct cstep *)ctx)->k;
    if (!k->flow)
        return gone();
    switch (http_parser_run(&k->parser)) {
    case HTTP_PARSE_MORE:
        return conn_read(k);
    case HTTP_PARSE_HEAD:
        /* The body is acceptable (else the parser refused it): if the
         * client waits for our word before sending it, say continue. */
        k->req = http_parser_request(&k->parser);
        if (http_parser_expects_continue(&k->parser) && !http_parser_body_started(&k->parser)) {
            lwt_t *w = by_deadline(k, flow_write(k->flow, continue_line, sizeof continue_line - 1),
                                   sched_now() + k->srv->cfg.idle_timeout_ns);
            return lwt_bind(w, conn_next, ctx, sizeof(struct cstep));
        }
        return conn_next(NULL, ctx);
    case HTTP_PARSE_REQUEST:
        return conn_request(k);
    default:
        return conn_refuse(k, http_parser_status(&k->parser));
    }
}

/* ---- Accepting --------------------------------------------------------------------- */

static struct http_conn *conn_new(struct http_server *srv, struct flow *f, bool busy)
{
    struct http_conn *k = malloc(sizeof *k);
    if (!k)
        return NULL;
    /* Field by field: the response's header room need not be zeroed. */
    memset(k, 0, offsetof(struct http_conn, resp));
    k->srv = srv;
    k->flow = f;
    k->busy = busy;
    k->out = NULL;
    http__response_init(&k->resp);
    if (!busy && http_parser_init(&k->parser, &srv->cfg.limits) < 0) {
        http_parser_free(&k->parser);
        free(k);
        return NULL;
    }
    flow_endpoints(f, NULL, &k->peer);
    flow_set_nodelay(f, true);
    k->head_start = k->idle_start = sched_now();
    return k;
}

static void conn_start(struct http_server *srv, struct flow *f)
{
    struct http_conn *k = conn_new(srv, f, false);
    if (!k) {
        flow_abort(f);
        return;
    }
    k->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = k;
    srv->conns = k;
    srv->live++;
    srv->stats.open++;
    srv->stats.connections++;
    struct cstep s = {k};
    lwt_async(lwt_try_bind(conn_next(NULL, &s), conn_ended, conn_failed, LWT_CTX(s)), NULL, LWT_NOCTX);
}

#define BUSY_BODY "503 Service Unavailable\n"
static const char busy_answer[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                                  "Content-Length: 24\r\nConnection: close\r\n\r\n" BUSY_BODY;

static lwt_t *busy_written(void *v, void *ctx)
{
    (void)v;
    return conn_finish(((struct cstep *)ctx)->k);
}

/* Past max_connections: 503 at once, without reading the request. */
static void refuse_busy(struct http_server *srv, struct flow *f)
{
    srv->stats.refused_busy++;
    struct http_conn *k = srv->busy < BUSY_MAX ? conn_new(srv, f, true) : NULL;
    if (!k) {
        flow_abort(f);
        return;
    }
    srv->busy++;
    srv->live++;
    log_answer(k, 503, sizeof BUSY_BODY - 1);
    struct cstep s = {k};
    lwt_t *w = by_deadline(k, flow_write(f, busy_answer, sizeof busy_answer - 1), sched_now() + LINGER_NS);
    w = lwt_bind(w, busy_written, LWT_CTX(s));
    lwt_async(lwt_try_bind(w, conn_ended, conn_failed, LWT_CTX(s)), NULL, LWT_NOCTX);
}

struct astep {
    struct http_server *srv;
};

static lwt_t *accept_next(void *v, void *ctx);

static lwt_t *accepted(void *v, void *ctx)
{
    struct http_server *srv = ((struct astep *)ctx)->srv;
    struct flow *f = v;
    if (srv->stopping) {
        flow_abort(f);
        return lwt_return(NULL);
    }
    if (srv->stats.open >= srv->cfg.max_connections)
        refuse_busy(srv, f);
    else
        conn_start(srv, f);
    return accept_next(NULL, ctx);
}

static lwt_t *accept_failed(int err, void *ctx)
{
    struct http_server *srv = ((struct astep *)ctx)->srv;
    if (srv->stopping || err == -LWT_ESHUTDOWN || err == -LWT_ECANCELED)
        return lwt_return(NULL);
    /* Out of memory for one connection, say: try again on the next turn. */
    return lwt_bind(sched_pause(), accept_next, ctx, sizeof(struct astep));
}

static lwt_t *accept_next(void *v, void *ctx)
{
    (void)v;
    struct http_server *srv = ((struct astep *)ctx)->srv;
    if (srv->stopping || !srv->listener)
        return lwt_return(NULL);
    return lwt_try_bind(flow_accept(srv->listener), accepted, accept_failed, ctx, sizeof(struct astep));
}

static lwt_t *accept_loop_ended(void *v, void *ctx)
{
    (void)v;
    chain_ended(((struct astep *)ctx)->srv);
    return lwt_return(NULL);
}

static lwt_t *accept_loop_failed(int err, void *ctx)
{
    (void)err;
    chain_ended(((struct astep *)ctx)->srv);
    return lwt_return(NULL);
}

/* ---- Starting and stopping ------------------------------------------------------------ */

int http_server_start(struct flow_stack *fs, const struct http_server_config *cfg, http_handler_fn handler, void *ctx,
                      struct http_server **out)
{
    struct http_server *srv = malloc(sizeof *srv);
    if (!srv)
        return -LWT_ENOMEM;
    memset(srv, 0, sizeof *srv);
    if (cfg)
        srv->cfg = *cfg;
    if (srv->cfg.backlog <= 0)
        srv->cfg.backlog = DEFAULT_BACKLOG;
    if (!srv->cfg.max_connections)
        srv->cfg.max_connections = DEFAULT_MAX_CONNECTIONS;
    if (!srv->cfg.header_timeout_ns)
        srv->cfg.header_timeout_ns = DEFAULT_HEADER_TIMEOUT;
    if (!srv->cfg.idle_timeout_ns)
        srv->cfg.idle_timeout_ns = DEFAULT_IDLE_TIMEOUT;
    srv->handler = handler;
    srv->ctx = ctx;
    int rc = flow_listen(fs, srv->cfg.port, srv->cfg.backlog, &srv->listener);
    if (rc < 0) {
        free(srv);
        return rc;
    }
    srv->live = 1;
    struct astep s = {srv};
    lwt_async(lwt_try_bind(accept_next(NULL, &s), accept_loop_ended, accept_loop_failed, LWT_CTX(s)), NULL, LWT_NOCTX);
    *out = srv;
    return 0;
}

uint16_t http_server_port(const struct http_server *s)
{
    return s->listener ? flow_listener_port(s->listener) : s->cfg.port;
}

const struct http_server_stats *http_server_stats(const struct http_server *s)
{
    return &s->stats;
}

/* The grace time is up: whatever is still open is reset. */
static void grace_over(void *v, void *ctx)
{
    (void)v;
    struct http_server *srv = *(struct http_server **)ctx;
    for (struct http_conn *k = srv->conns, *next; k; k = next) {
        next = k->next; /* k may end inline */
        if (k->flow) {
            struct flow *f = k->flow;
            k->flow = NULL; /* its chain fails on its own, later */
            flow_abort(f);
        }
    }
}

static lwt_t *free_server(void *v, void *ctx)
{
    (void)v;
    free(*(struct http_server **)ctx);
    return lwt_return(NULL);
}

lwt_t *http_server_stop(struct http_server *srv)
{
    if (srv->stopping)
        return lwt_fail(-LWT_EALREADY);
    srv->stopping = true;
    srv->cfg.port = http_server_port(srv);
    /* Ready to be told before anything is closed: the last chain may end
     * inline. */
    lwt_t *done = lwt_wait(&srv->drained);
    srv->stop_timer = sched_sleep(srv->cfg.idle_timeout_ns);
    lwt_on_success(srv->stop_timer, grace_over, LWT_CTX(srv));
    srv->live++;                        /* held while we close things */
    flow_listener_close(srv->listener); /* the accept loop ends */
    srv->listener = NULL;
    /* Idle connections go now; the others once their answer is out. */
    for (struct http_conn *k = srv->conns, *next; k; k = next) {
        next = k->next;
        if (k->idle && k->flow) {
            struct flow *f = k->flow;
            k->flow = NULL;
            flow_close(f);
        }
    }
    chain_ended(srv);
    return lwt_bind(done, free_server, LWT_CTX(srv));
}
