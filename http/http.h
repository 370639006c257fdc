/* HTTP/1.1 (RFC 9110, 9112) over the flow interface (net/flow.h): the
 * request and response types, the server and the client. Freestanding C.
 *
 * The server accepts connections on a flow stack; on each it parses
 * requests incrementally (http_parser.h), pipelined ones in order, and
 * hands each complete request (head and body) to the application's
 * handler, which fills in a response. The server writes it with the
 * framing the request allows (Content-Length; no body for HEAD, 1xx, 204,
 * 304), keeps the connection alive when both sides allow it, and refuses
 * what it must without calling the handler: 400 (malformed, or anything
 * that could smuggle a request), 413, 414, 431, 501, 505, and 503 past the
 * bound on connections. Each connection has a header timeout (a slow
 * client cannot hold a slot: the whole head must arrive in time) and an
 * idle timeout between requests. http_server_stop is graceful.
 *
 * Ownership: a request and everything it points to belong to the server
 * and are valid until the handler's promise settles. A response's header
 * strings are copied; its body is borrowed until the server calls the
 * body's release function (after the last byte is written or the
 * connection failed).
 */
#ifndef TESSERA_HTTP_H
#define TESSERA_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "lwt.h"
#include "wallclock.h"

/* ---- Requests ------------------------------------------------------------ */

enum http_method {
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_PATCH,
    HTTP_TRACE,
    HTTP_CONNECT,
    HTTP_OTHER, /* a valid token we do not know */
};

struct http_header {
    const char *name; /* as sent; compare without case */
    const char *value;
    size_t name_len, value_len; /* value without surrounding whitespace */
};

struct http_request {
    enum http_method method;
    const char *method_str, *target; /* target: as sent ("/a%20b?x=1") */
    size_t method_len, target_len;
    const char *path; /* target's path, percent-decoded, NUL-terminated */
    size_t path_len;
    const char *query; /* after '?', not decoded; NULL if none */
    size_t query_len;
    int version; /* 10 or 11 */
    const struct http_header *headers;
    size_t nheaders;
    const uint8_t *body; /* de-chunked; NULL if none */
    size_t body_len;
    bool keep_alive; /* the client allows the connection to stay open */
    struct flow_endpoint peer;
};

/* The value of the first header of that name (no case), or NULL. */
const struct http_header *http_request_header(const struct http_request *r, const char *name);
/* Walks a list value (RFC 9110 §5.6.1): the next element of the
 * comma-separated list from *at to end, whitespace trimmed, empty ones
 * skipped; false at the end. */
bool http_list_next(const char **at, const char *end, const char **elem, size_t *len);
/* A counted token equals lit, ASCII case ignored. */
bool http_token_is(const char *s, size_t len, const char *lit);

/* Limits (0: the default). Past them the request is refused. */
struct http_limits {
    size_t max_head_bytes;   /* request line and headers; default 8 KiB (431) */
    size_t max_headers;      /* default 100 (431) */
    size_t max_target_bytes; /* default 4 KiB (414) */
    size_t max_body_bytes;   /* default 1 MiB (413) */
};

/* ---- Responses ------------------------------------------------------------ */

#define HTTP_RESPONSE_HEADER_BYTES 2048 /* what a handler may add, in all */

struct http_response {
    int status; /* default 200 */
    /* private to the server: the added headers, and the body */
    char headers_[HTTP_RESPONSE_HEADER_BYTES];
    size_t headers_len_;
    bool headers_overflow_;
    const void *body_;
    size_t body_len_;
    void (*release_)(void *ctx);
    void *release_ctx_;
    bool has_content_length_;
    uint64_t content_length_;
};

/* Adds "name: value". Date, Server, Connection, Content-Length and
 * Transfer-Encoding are the server's (-LWT_EINVAL; a HEAD answer's length
 * is set with http_response_content_length). -LWT_ENOSPC if the
 * response's header room is full; -LWT_EINVAL for a name that is not a
 * token, or a CR, LF or other control byte in the value (no response
 * splitting). */
int http_response_header(struct http_response *r, const char *name, const char *value);
/* The body: len bytes at data, borrowed until release(ctx) is called (NULL:
 * nothing to call). For HEAD the server sends the length and no bytes. A
 * second call releases the first body at once. */
void http_response_body(struct http_response *r, const void *data, size_t len, void (*release)(void *ctx), void *ctx);
/* Content-Length for a response without a body of ours (an answer to HEAD
 * computed without loading the bytes, or a 304). Other answers carry the
 * length of their body. */
void http_response_content_length(struct http_response *r, uint64_t len);

/* The reason phrase of a status ("Not Found"), "" if unknown. */
const char *http_reason(int status);

/* ---- The server ------------------------------------------------------------ */

struct http_server;

/* Fills in resp for req; the returned promise settles when it is ready
 * (lwt_return(NULL) at once for a synchronous handler). Rejection makes a
 * 500. req is valid until then. */
typedef lwt_t *(*http_handler_fn)(void *ctx, const struct http_request *req, struct http_response *resp);

/* One line per answered request (the app formats it, e.g. common log
 * format). bytes: the body bytes sent. */
struct http_log_entry {
    const struct http_request *req; /* NULL when the request could not be parsed */
    struct flow_endpoint peer;
    int status;
    uint64_t bytes;
    int64_t time; /* seconds since the epoch (0 without a clock) */
};
typedef void (*http_log_fn)(void *ctx, const struct http_log_entry *e);

struct http_server_config {
    uint16_t port;
    int backlog;                /* default 256 */
    unsigned max_connections;   /* default 1024; past it: 503 and close */
    uint64_t header_timeout_ns; /* default 10 s: the whole head must arrive */
    uint64_t idle_timeout_ns;   /* default 60 s between requests */
    struct http_limits limits;
    const char *server_name; /* the Server header; NULL: none */
    struct wallclock *clock; /* for Date and the log's time; NULL: no Date */
    http_log_fn log;         /* NULL: no log */
    void *log_ctx;
};

/* Listens and serves until http_server_stop. 0 or an LWT_E* code (the
 * listen's). */
int http_server_start(struct flow_stack *fs, const struct http_server_config *cfg, http_handler_fn handler, void *ctx,
                      struct http_server **out);
uint16_t http_server_port(const struct http_server *s);
/* Stops accepting, lets requests in progress finish (within the idle
 * timeout; what is left then is reset), closes idle connections;
 * fulfilled once every connection is gone, when the server is freed. Call
 * it once (a second call while the first is pending: -LWT_EALREADY). */
lwt_t *http_server_stop(struct http_server *s);

struct http_server_stats {
    uint64_t connections, requests, refused_busy, timeouts;
    uint64_t status_4xx, status_5xx;
    unsigned open; /* now */
};
const struct http_server_stats *http_server_stats(const struct http_server *s);

/* ---- The client ---------------------------------------------------------- */

struct http_client;

/* A client with one keep-alive connection to `to` (opened on first use,
 * again if the server closed it between requests). */
struct http_client *http_client_new(struct flow_stack *fs, struct flow_endpoint to);
/* Not while a request is pending. */
void http_client_free(struct http_client *c);

struct http_client_response {
    int status;
    const struct http_header *headers;
    size_t nheaders;
    const uint8_t *body;
    size_t body_len;
};

/* Sends one request (extra_headers: complete "Name: value\r\n" lines, or
 * NULL) and reads the answer. Fulfilled with a const struct
 * http_client_response *, valid until the next request or
 * http_client_free. One request at a time. */
lwt_t *http_client_request(struct http_client *c, const char *method, const char *target, const char *extra_headers,
                           const void *body, size_t body_len);

#endif
