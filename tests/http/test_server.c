/* The server and the client end to end: two direct stacks on the hub,
 * real TCP through flow_direct, on the virtual clock. Keep-alive,
 * pipelining, HEAD, handler answers and failures, 100-continue, refusals
 * on the wire, both timeouts, the bound on connections, slow clients that
 * must not delay anyone else, graceful stop; and after every test, TCP's
 * memory and the promises are back to zero. */
#include "test_support.h"
#include "test_vclock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow_direct.h"
#include "http.h"
#include "hub.h"
#include "lwt_errno.h"
#include "net_buf.h"
#include "scheduler.h"
#include "stack.h"
#include "tcp.h"
#include "tcp_internal.h"

static const uint8_t MAC_A[6] = {2, 0, 0, 0, 3, 0xa};
static const uint8_t MAC_B[6] = {2, 0, 0, 0, 3, 0xb};
#define IP_A IP4_ADDR(10, 3, 0, 1)
#define IP_B IP4_ADDR(10, 3, 0, 2)

#define SEC SCHED_NS_PER_S

/* 1994-11-06 08:49:37 when the virtual clock starts. */
static int64_t clock_now_ns(struct wallclock *c)
{
    (void)c;
    return 784111777 * (int64_t)SEC + (int64_t)test_vclock_now();
}
static const struct wallclock_ops clock_ops = {.now_ns = clock_now_ns};
static struct wallclock test_clock = {.ops = &clock_ops};

static struct {
    struct net_hub *hub;
    struct netif *pa, *pb;
    struct net_stack *a, *b;
    struct flow_stack *fa, *fb;
    struct http_server *srv;
    struct http_client *client;
    unsigned logged, logged_refusals, released;
    int last_status;
    uint64_t last_bytes;
} t;

static uint8_t big[1024 * 1024];

static void log_entry(void *ctx, const struct http_log_entry *e)
{
    (void)ctx;
    t.logged++;
    if (!e->req)
        t.logged_refusals++;
    t.last_status = e->status;
    t.last_bytes = e->bytes;
    assert_int_equal(e->peer.addr, IP_A);
    assert_int_equal(e->time, 784111777 + (int64_t)(test_vclock_now() / SEC));
}

static void count_release(void *ctx)
{
    (void)ctx;
    t.released++;
}

struct later {
    struct http_response *resp;
};

static lwt_t *answer_later(void *v, void *ctx)
{
    (void)v;
    struct later *l = ctx;
    l->resp->status = 202;
    http_response_body(l->resp, "late", 4, NULL, NULL);
    return lwt_return(NULL);
}

static lwt_t *handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
    (void)ctx;
    if (strcmp(req->path, "/hello") == 0) {
        assert_int_equal(http_response_header(resp, "Content-Type", "text/plain"), 0);
        http_response_body(resp, "hello world", 11, count_release, NULL);
    } else if (strcmp(req->path, "/big") == 0) {
        http_response_body(resp, big, sizeof big, count_release, NULL);
    } else if (strcmp(req->path, "/echo") == 0) {
        /* The request's body lives until this promise settles; the answer
         * is written after that, so it gets a copy. */
        char *copy = malloc(req->body_len + 1);
        memcpy(copy, req->body ? (const char *)req->body : "", req->body_len);
        http_response_body(resp, copy, req->body_len, free, copy);
    } else if (strcmp(req->path, "/slow") == 0) {
        struct later l = {resp};
        return lwt_bind(sched_sleep(SEC), answer_later, LWT_CTX(l));
    } else if (strcmp(req->path, "/fail") == 0) {
        http_response_body(resp, "partial", 7, count_release, NULL);
        return lwt_fail(-LWT_EIO);
    } else if (strcmp(req->path, "/nothing") == 0) {
        resp->status = 204;
        http_response_body(resp, "ignored", 7, NULL, NULL);
    } else if (strcmp(req->path, "/unchanged") == 0) {
        resp->status = 304;
    } else if (strcmp(req->path, "/headers") == 0) {
        assert_int_equal(http_response_header(resp, "X-Bad", "a\r\nInjected: yes"), -LWT_EINVAL);
        assert_int_equal(http_response_header(resp, "Content-Length", "5"), -LWT_EINVAL);
        assert_int_equal(http_response_header(resp, "Bad Name", "x"), -LWT_EINVAL);
        char value[1200];
        memset(value, 'v', sizeof value - 1);
        value[sizeof value - 1] = '\0';
        assert_int_equal(http_response_header(resp, "X-Long", value), 0);
        assert_int_equal(http_response_header(resp, "X-Long2", value), -LWT_ENOSPC);
        const struct http_header *h = http_request_header(req, "x-test");
        http_response_body(resp, h ? h->value : "none", h ? h->value_len : 4, NULL, NULL);
    } else {
        resp->status = 404;
        http_response_body(resp, "no such thing", 13, NULL, NULL);
    }
    return lwt_return(NULL);
}

static int setup(void **state)
{
    test_setup(state);
    test_vclock_install(1000);
    memset(&t, 0, sizeof t);
    t.hub = net_hub_new(5);
    assert_int_equal(net_hub_add_port(t.hub, MAC_A, 1500, "a", &t.pa), 0);
    assert_int_equal(net_hub_add_port(t.hub, MAC_B, 1500, "b", &t.pb), 0);
    assert_int_equal(net_stack_new(t.pa, &t.a), 0);
    assert_int_equal(net_stack_new(t.pb, &t.b), 0);
    struct ip4_config ca = {IP_A, 0xffffff00, 0}, cb = {IP_B, 0xffffff00, 0};
    assert_int_equal(net_stack_configure(t.a, &ca), 0);
    assert_int_equal(net_stack_configure(t.b, &cb), 0);
    /* Small buffers: many connections, and back-pressure on large bodies. */
    struct tcp_options o = {.sndbuf = 16384, .rcvbuf = 16384};
    t.fa = flow_direct_new(t.a, &o);
    t.fb = flow_direct_new(t.b, &o);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 13 + i / 977);
    return 0;
}

static int await(lwt_t *p, void **v)
{
    lwt_t *limit = sched_sleep(3600 * SEC);
    lwt_t *both[2] = {lwt_ref(p), lwt_ref(limit)};
    sched_run(lwt_choose(both, 2), NULL);
    lwt_cancel(limit);
    lwt_unref(limit);
    assert_true(lwt_state(p) != LWT_PENDING);
    int err = lwt_state(p) == LWT_FULFILLED ? 0 : lwt_error(p);
    if (v)
        *v = err ? NULL : lwt_value(p);
    lwt_unref(p);
    return err;
}

static void run_for(uint64_t ns)
{
    assert_int_equal(sched_run(sched_sleep(ns), NULL), 0);
}

static int teardown(void **state)
{
    if (t.client)
        http_client_free(t.client);
    if (t.srv)
        assert_int_equal(await(http_server_stop(t.srv), NULL), 0);
    /* Every connection through TIME_WAIT: TCP holds nothing. */
    run_for(TCP_TIME_WAIT_NS + 10 * SEC);
    assert_int_equal(tcp_stats(t.a)->conns, 0);
    assert_int_equal(tcp_stats(t.b)->conns, 0);
    assert_int_equal(tcp_memory_in_use(t.a), 0);
    assert_int_equal(tcp_memory_in_use(t.b), 0);
    assert_int_equal(sched_timer_count(), 0);
    flow_direct_free(t.fa);
    flow_direct_free(t.fb);
    net_stack_free(t.a);
    net_stack_free(t.b);
    net_hub_free(t.hub);
    test_vclock_uninstall();
    if (net_buf_live_count() != 0) {
        fprintf(stderr, "%zu packet buffers left alive\n", net_buf_live_count());
        return -1;
    }
    return test_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static void start_server(const struct http_server_config *cfg)
{
    struct http_server_config c = {.port = 80, .server_name = "tessera-test", .clock = &test_clock, .log = log_entry};
    if (cfg)
        c = *cfg;
    assert_int_equal(http_server_start(t.fb, &c, handler, NULL, &t.srv), 0);
    t.client = http_client_new(t.fa, (struct flow_endpoint){IP_B, http_server_port(t.srv)});
    assert_non_null(t.client);
}

static void stop_server(void)
{
    assert_int_equal(await(http_server_stop(t.srv), NULL), 0);
    t.srv = NULL;
}

static const struct http_client_response *get(const char *method, const char *target, const char *extra,
                                              const void *body, size_t len)
{
    void *v;
    int rc = await(http_client_request(t.client, method, target, extra, body, len), &v);
    if (rc)
        fail_msg("%s %s: %s", method, target, lwt_strerror(rc));
    return v;
}

static const char *header_of(const struct http_client_response *r, const char *name, size_t *len)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (r->headers[i].name_len == strlen(name) && strncmp(r->headers[i].name, name, strlen(name)) == 0) {
            *len = r->headers[i].value_len;
            return r->headers[i].value;
        }
    }
    return NULL;
}

static void assert_header(const struct http_client_response *r, const char *name, const char *value)
{
    size_t len;
    const char *v = header_of(r, name, &len);
    if (!v)
        fail_msg("no %s", name);
    if (len != strlen(value) || memcmp(v, value, len) != 0)
        fail_msg("%s: '%.*s', expected '%s'", name, (int)len, v, value);
}

static void assert_no_header(const struct http_client_response *r, const char *name)
{
    size_t len;
    if (header_of(r, name, &len))
        fail_msg("unexpected %s", name);
}

/* ---- Raw connections, for what the client would never send ---------------- */

static struct flow *raw_connect(void)
{
    void *v;
    assert_int_equal(await(flow_connect(t.fa, (struct flow_endpoint){IP_B, http_server_port(t.srv)}), &v), 0);
    return v;
}

static void raw_send(struct flow *f, const char *s)
{
    assert_int_equal(await(flow_write(f, s, strlen(s)), NULL), 0);
}

/* Reads until the peer's FIN (or an error); returns the length. */
static size_t raw_read_all(struct flow *f, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        void *v;
        if (await(flow_read(f, buf + n, cap - 1 - n), &v) != 0 || LWT_TO_INT(v) == 0)
            break;
        n += (size_t)LWT_TO_INT(v);
    }
    buf[n] = '\0';
    return n;
}

/* Reads until `needle` has arrived. */
static size_t raw_read_until(struct flow *f, char *buf, size_t cap, const char *needle)
{
    size_t n = 0;
    buf[0] = '\0';
    while (!strstr(buf, needle)) {
        void *v;
        assert_int_equal(await(flow_read(f, buf + n, cap - 1 - n), &v), 0);
        assert_true(LWT_TO_INT(v) > 0);
        n += (size_t)LWT_TO_INT(v);
        buf[n] = '\0';
    }
    return n;
}

/* ---- Tests ------------------------------------------------------------------ */

static void keep_alive_reuses_one_connection(void **state)
{
    (void)state;
    start_server(NULL);
    for (int i = 0; i < 5; i++) {
        const struct http_client_response *r = get("GET", "/hello", NULL, NULL, 0);
        assert_int_equal(r->status, 200);
        assert_int_equal(r->body_len, 11);
        assert_memory_equal(r->body, "hello world", 11);
        assert_header(r, "Content-Length", "11");
        assert_header(r, "Content-Type", "text/plain");
        assert_header(r, "Server", "tessera-test");
        assert_no_header(r, "Connection");
    }
    const struct http_client_response *r = get("GET", "/hello", NULL, NULL, 0);
    size_t len;
    const char *date = header_of(r, "Date", &len);
    assert_non_null(date);
    assert_int_equal(len, 29);
    assert_memory_equal(date, "Sun, 06 Nov 1994 08:49:", 23);
    const struct http_server_stats *st = http_server_stats(t.srv);
    assert_int_equal(st->connections, 1);
    assert_int_equal(st->requests, 6);
    assert_int_equal(st->open, 1);
    assert_int_equal(t.released, 6);
    assert_int_equal(t.logged, 6);
    assert_int_equal(t.last_status, 200);
    assert_int_equal(t.last_bytes, 11);
}

static void head_404_500_204_304(void **state)
{
    (void)state;
    start_server(NULL);
    const struct http_client_response *r = get("HEAD", "/hello", NULL, NULL, 0);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 0);
    assert_header(r, "Content-Length", "11");
    assert_int_equal(t.last_bytes, 0);
    r = get("GET", "/nope", NULL, NULL, 0);
    assert_int_equal(r->status, 404);
    assert_memory_equal(r->body, "no such thing", 13);
    r = get("GET", "/fail", NULL, NULL, 0);
    assert_int_equal(r->status, 500);
    assert_int_equal(r->body_len, 0);
    assert_int_equal(t.released, 2); /* HEAD's body, and the failed one's */
    r = get("GET", "/nothing", NULL, NULL, 0);
    assert_int_equal(r->status, 204);
    assert_no_header(r, "Content-Length");
    r = get("GET", "/unchanged", NULL, NULL, 0);
    assert_int_equal(r->status, 304);
    assert_no_header(r, "Content-Length");
    r = get("GET", "/slow", NULL, NULL, 0);
    assert_int_equal(r->status, 202);
    assert_memory_equal(r->body, "late", 4);
    r = get("GET", "/headers", "X-Test: yes\r\n", NULL, 0);
    assert_int_equal(r->status, 200);
    assert_memory_equal(r->body, "yes", 3);
    const struct http_server_stats *st = http_server_stats(t.srv);
    assert_int_equal(st->connections, 1);
    assert_int_equal(st->status_4xx, 1);
    assert_int_equal(st->status_5xx, 1);
}

static void bodies_both_ways(void **state)
{
    (void)state;
    start_server(NULL);
    const struct http_client_response *r = get("GET", "/big", NULL, NULL, 0);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, sizeof big);
    assert_memory_equal(r->body, big, sizeof big);
    assert_int_equal(t.released, 1);
    assert_int_equal(t.last_bytes, sizeof big);
    r = get("POST", "/echo", NULL, big, 300000);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 300000);
    assert_memory_equal(r->body, big, 300000);
    /* Past the default 1 MiB limit: refused, and the connection closes. */
    static uint8_t huge[1024 * 1024 + 1];
    r = get("POST", "/echo", NULL, huge, sizeof huge);
    assert_int_equal(r->status, 413);
    assert_header(r, "Connection", "close");
    r = get("GET", "/hello", NULL, NULL, 0);
    assert_int_equal(r->status, 200);
    assert_int_equal(http_server_stats(t.srv)->connections, 2);
}

static void pipelined_requests_are_answered_in_order(void **state)
{
    (void)state;
    start_server(NULL);
    struct flow *f = raw_connect();
    /* All at once, the slow one first: its answer must still come first. */
    raw_send(f, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    static char buf[8192];
    raw_read_all(f, buf, sizeof buf);
    flow_close(f);
    const char *a = strstr(buf, "HTTP/1.1 202 Accepted\r\n");
    const char *b = strstr(buf, "\r\n\r\nhello world");
    const char *c = strstr(buf, "\r\n\r\nabcde");
    const char *d = strstr(buf, "Content-Length: 11\r\n\r\nHTTP/1.1 404");
    const char *e = strstr(buf, "Connection: close\r\n\r\nno such thing");
    assert_true(a && b && c && d && e);
    assert_true(a < b && b < c && c < d && d < e);
    assert_int_equal(http_server_stats(t.srv)->requests, 5);
}

static void http_10_keep_alive_and_close(void **state)
{
    (void)state;
    start_server(NULL);
    struct flow *f = raw_connect();
    static char buf[4096];
    raw_send(f, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    raw_read_until(f, buf, sizeof buf, "hello world");
    assert_non_null(strstr(buf, "Connection: keep-alive\r\n"));
    raw_send(f, "GET /hello HTTP/1.0\r\n\r\n");
    raw_read_all(f, buf, sizeof buf);
    assert_non_null(strstr(buf, "Connection: close\r\n"));
    assert_non_null(strstr(buf, "hello world"));
    flow_close(f);
}

/* A whole request that asked to close: the server closes at once, and its
 * slot is free while the client has not closed yet. After a refusal the
 * client may still be sending: the server lingers (reads and discards)
 * until the client closes or the lingering time is up. */
static void close_lingers_only_where_the_client_may_still_send(void **state)
{
    (void)state;
    start_server(NULL);
    static char buf[4096];
    struct flow *f = raw_connect();
    raw_send(f, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    raw_read_all(f, buf, sizeof buf);
    assert_non_null(strstr(buf, "hello world"));
    run_for(10 * SCHED_NS_PER_MS);
    assert_int_equal(http_server_stats(t.srv)->open, 0);
    flow_close(f);

    f = raw_connect();
    raw_send(f, "GET /hello HTTP/1.1\r\nHost : x\r\n\r\n");
    raw_read_all(f, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 400 "));
    run_for(10 * SCHED_NS_PER_MS);
    assert_int_equal(http_server_stats(t.srv)->open, 1);
    flow_close(f);
    run_for(10 * SCHED_NS_PER_MS);
    assert_int_equal(http_server_stats(t.srv)->open, 0);
}

static void expect_100_continue(void **state)
{
    (void)state;
    start_server(NULL);
    struct flow *f = raw_connect();
    static char buf[4096];
    raw_send(f, "PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    raw_read_until(f, buf, sizeof buf, "\r\n\r\n");
    assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
    raw_send(f, "hello");
    raw_read_until(f, buf, sizeof buf, "hello");
    assert_memory_equal(buf, "HTTP/1.1 200 OK\r\n", 17);
    /* Too large: refused at once, the body never asked for. */
    raw_send(f, "PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 99999999\r\n\r\n");
    raw_read_all(f, buf, sizeof buf);
    assert_memory_equal(buf, "HTTP/1.1 413 Content Too Large\r\n", 32);
    flow_close(f);
    f = raw_connect();
    raw_send(f, "PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: coffee\r\nContent-Length: 5\r\n\r\n");
    raw_read_all(f, buf, sizeof buf);
    assert_memory_equal(buf, "HTTP/1.1 417 Expectation Failed\r\n", 33);
    flow_close(f);
}

static void refusals_on_the_wire_close_the_connection(void **state)
{
    (void)state;
    start_server(NULL);
    static const struct {
        const char *in;
        const char *line;
    } cases[] = {
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         "HTTP/1.1 400 Bad Request\r\n"},
        {"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
        {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "HTTP/1.1 501 Not Implemented\r\n"},
        {"GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
    };
    static char buf[4096];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct flow *f = raw_connect();
        raw_send(f, cases[i].in);
        raw_read_all(f, buf, sizeof buf);
        flow_close(f);
        assert_memory_equal(buf, cases[i].line, strlen(cases[i].line));
        assert_non_null(strstr(buf, "Connection: close\r\n"));
        assert_non_null(strstr(buf, "Date: "));
    }
    assert_int_equal(t.logged_refusals, 5);
    /* A target too long, and a head too large. */
    static char big_req[12000];
    struct flow *f = raw_connect();
    memset(big_req, 'a', sizeof big_req - 1);
    memcpy(big_req, "GET /", 5);
    raw_send(f, big_req);
    raw_read_all(f, buf, sizeof buf);
    flow_close(f);
    assert_memory_equal(buf, "HTTP/1.1 414 URI Too Long\r\n", 27);
    f = raw_connect();
    memcpy(big_req, "GET / HTTP/1.1\r\nX: ", 19);
    raw_send(f, big_req);
    raw_read_all(f, buf, sizeof buf);
    flow_close(f);
    assert_memory_equal(buf, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46);
}

static void header_timeout_answers_408(void **state)
{
    (void)state;
    struct http_server_config cfg = {.header_timeout_ns = 5 * SEC, .idle_timeout_ns = 30 * SEC};
    start_server(&cfg);
    struct flow *f = raw_connect();
    uint64_t t0 = test_vclock_now();
    raw_send(f, "GET / HTTP/1.1\r\n");
    run_for(3 * SEC);
    raw_send(f, "Host: x\r\n"); /* progress does not extend the deadline */
    static char buf[4096];
    raw_read_all(f, buf, sizeof buf);
    uint64_t took = test_vclock_now() - t0;
    assert_true(took >= 5 * SEC && took < 6 * SEC);
    assert_memory_equal(buf, "HTTP/1.1 408 Request Timeout\r\n", 30);
    flow_close(f);
    /* A connection that never sends a byte is closed quietly. */
    f = raw_connect();
    t0 = test_vclock_now();
    assert_int_equal(raw_read_all(f, buf, sizeof buf), 0);
    took = test_vclock_now() - t0;
    assert_true(took >= 5 * SEC && took < 6 * SEC);
    flow_close(f);
    assert_int_equal(http_server_stats(t.srv)->timeouts, 2);
}

static void idle_timeout_closes_and_the_client_reconnects(void **state)
{
    (void)state;
    struct http_server_config cfg = {.idle_timeout_ns = 20 * SEC};
    start_server(&cfg);
    assert_int_equal(get("GET", "/hello", NULL, NULL, 0)->status, 200);
    run_for(19 * SEC);
    assert_int_equal(http_server_stats(t.srv)->open, 1);
    assert_int_equal(get("GET", "/hello", NULL, NULL, 0)->status, 200);
    run_for(21 * SEC);
    assert_int_equal(http_server_stats(t.srv)->open, 0);
    assert_int_equal(http_server_stats(t.srv)->timeouts, 1);
    /* The client finds its connection closed and opens another. */
    assert_int_equal(get("GET", "/hello", NULL, NULL, 0)->status, 200);
    assert_int_equal(http_server_stats(t.srv)->connections, 2);
}

static void past_max_connections_503(void **state)
{
    (void)state;
    struct http_server_config cfg = {.max_connections = 2};
    start_server(&cfg);
    struct flow *held[2];
    for (int i = 0; i < 2; i++) {
        held[i] = raw_connect();
        raw_send(held[i], "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    run_for(SCHED_NS_PER_MS * 10);
    assert_int_equal(http_server_stats(t.srv)->open, 2);
    struct flow *f = raw_connect();
    static char buf[4096];
    raw_read_all(f, buf, sizeof buf);
    flow_close(f);
    assert_memory_equal(buf, "HTTP/1.1 503 Service Unavailable\r\n", 34);
    assert_int_equal(http_server_stats(t.srv)->refused_busy, 1);
    /* The two held ones were served all along. */
    for (int i = 0; i < 2; i++) {
        raw_read_until(held[i], buf, sizeof buf, "hello world");
        flow_close(held[i]);
    }
    run_for(SCHED_NS_PER_MS * 10);
    assert_int_equal(get("GET", "/hello", NULL, NULL, 0)->status, 200);
}

/* ---- Slow clients ---------------------------------------------------------- */

struct slow {
    struct flow *f;
    const char *text;
    size_t sent;
};

static lwt_t *slow_step(void *v, void *ctx);

static lwt_t *slow_wait(void *v, void *ctx)
{
    (void)v;
    return lwt_bind(sched_sleep(SEC), slow_step, ctx, sizeof(struct slow *));
}

static lwt_t *slow_step(void *v, void *ctx)
{
    (void)v;
    struct slow *s = *(struct slow **)ctx;
    if (!s->text[s->sent])
        return lwt_return(NULL);
    return lwt_bind(flow_write(s->f, s->text + s->sent++, 1), slow_wait, ctx, sizeof(struct slow *));
}

static void slow_clients_do_not_delay_others(void **state)
{
    (void)state;
    start_server(NULL); /* header timeout 10 s */
    enum { N = 100 };
    static struct slow slow[N];
    lwt_t *chains[N];
    for (int i = 0; i < N; i++) {
        slow[i] = (struct slow){raw_connect(), "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 0};
        struct slow *sp = &slow[i];
        chains[i] = slow_step(NULL, &sp);
    }
    run_for(3 * SEC);
    assert_int_equal(http_server_stats(t.srv)->open, N);
    /* A normal client, while they trickle: answered at once. */
    uint64_t t0 = test_vclock_now();
    assert_int_equal(get("GET", "/hello", NULL, NULL, 0)->status, 200);
    assert_true(test_vclock_now() - t0 < 50 * SCHED_NS_PER_MS);
    /* The slow ones never finish their heads in time: 408 each. */
    static char buf[4096];
    for (int i = 0; i < N; i++) {
        raw_read_all(slow[i].f, buf, sizeof buf);
        assert_memory_equal(buf, "HTTP/1.1 408 Request Timeout\r\n", 30);
    }
    assert_true(test_vclock_now() - t0 < 10 * SEC);
    for (int i = 0; i < N; i++) {
        lwt_cancel(chains[i]);
        drain();
        assert_true(lwt_state(chains[i]) != LWT_PENDING);
        lwt_unref(chains[i]);
        flow_close(slow[i].f);
    }
    assert_int_equal(http_server_stats(t.srv)->timeouts, N);
    assert_int_equal(get("GET", "/hello", NULL, NULL, 0)->status, 200);
}

/* ---- Stopping ------------------------------------------------------------------ */

static void graceful_stop(void **state)
{
    (void)state;
    start_server(NULL);
    assert_int_equal(get("GET", "/hello", NULL, NULL, 0)->status, 200); /* an idle one */
    struct flow *busy = raw_connect();
    raw_send(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    run_for(100 * SCHED_NS_PER_MS);
    assert_int_equal(http_server_stats(t.srv)->open, 2);
    lwt_t *stopped = http_server_stop(t.srv);
    run_for(10 * SCHED_NS_PER_MS);
    assert_pending(stopped);
    assert_int_equal(http_server_stats(t.srv)->open, 1); /* the idle one went at once */
    /* No new connections. */
    assert_int_equal(await(flow_connect(t.fa, (struct flow_endpoint){IP_B, 80}), NULL), -LWT_ECONNREFUSED);
    static char buf[4096];
    raw_read_all(busy, buf, sizeof buf);
    assert_memory_equal(buf, "HTTP/1.1 202 Accepted\r\n", 23);
    assert_non_null(strstr(buf, "Connection: close\r\n"));
    flow_close(busy);
    assert_int_equal(await(stopped, NULL), 0);
    t.srv = NULL;
}

static void stop_resets_what_outlives_the_grace_time(void **state)
{
    (void)state;
    struct http_server_config cfg = {.idle_timeout_ns = 5 * SEC, .header_timeout_ns = 60 * SEC};
    start_server(&cfg);
    struct flow *f = raw_connect();
    raw_send(f, "GET /hello HTTP/1.1\r\n"); /* a head that will not finish */
    run_for(SEC);
    uint64_t t0 = test_vclock_now();
    assert_int_equal(await(http_server_stop(t.srv), NULL), 0);
    t.srv = NULL;
    assert_true(test_vclock_now() - t0 <= 5 * SEC + SCHED_NS_PER_MS);
    char buf[64];
    assert_int_equal(await(flow_read(f, buf, sizeof buf), NULL), -LWT_ECONNRESET);
    flow_close(f);
}

static void start_fails_on_a_taken_port(void **state)
{
    (void)state;
    start_server(NULL);
    struct http_server *other;
    struct http_server_config cfg = {.port = 80};
    assert_int_equal(http_server_start(t.fb, &cfg, handler, NULL, &other), -LWT_EADDRINUSE);
    stop_server();
    /* Port 0: any free one. */
    cfg.port = 0;
    assert_int_equal(http_server_start(t.fb, &cfg, handler, NULL, &t.srv), 0);
    assert_true(http_server_port(t.srv) != 0);
    http_client_free(t.client);
    t.client = http_client_new(t.fa, (struct flow_endpoint){IP_B, http_server_port(t.srv)});
    assert_int_equal(get("GET", "/hello", NULL, NULL, 0)->status, 200);
    assert_string_equal(http_reason(404), "Not Found");
    assert_string_equal(http_reason(799), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(keep_alive_reuses_one_connection),
        T(head_404_500_204_304),
        T(bodies_both_ways),
        T(pipelined_requests_are_answered_in_order),
        T(http_10_keep_alive_and_close),
        T(close_lingers_only_where_the_client_may_still_send),
        T(expect_100_continue),
        T(refusals_on_the_wire_close_the_connection),
        T(header_timeout_answers_408),
        T(idle_timeout_closes_and_the_client_reconnects),
        T(past_max_connections_503),
        T(slow_clients_do_not_delay_others),
        T(graceful_stop),
        T(stop_resets_what_outlives_the_grace_time),
        T(start_fails_on_a_taken_port),
    };
    return RUN_TESTS(tests);
}
