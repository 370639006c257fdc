/* The small pieces of requests and responses an application touches:
 * header lookup, the response setters, reason phrases. */
#include <string.h>

#include "http_chars.h"
#include "http_internal.h"
#include "lwt_errno.h"

const struct http_header *http_request_header(const struct http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (http__eq_nocase(r->headers[i].name, r->headers[i].name_len, name))
            return &r->headers[i];
    return NULL;
}

void http__response_init(struct http_response *r)
{
    r->status = 200;
    r->headers_len_ = 0;
    r->headers_overflow_ = false;
    r->body_ = NULL;
    r->body_len_ = 0;
    r->release_ = NULL;
    r->release_ctx_ = NULL;
    r->has_content_length_ = false;
    r->content_length_ = 0;
}

void http__response_release(struct http_response *r)
{
    void (*release)(void *) = r->release_;
    r->release_ = NULL;
    r->body_ = NULL;
    r->body_len_ = 0;
    if (release)
        release(r->release_ctx_);
}

/* The fields whose value the server decides: framing and connection. */
static bool server_owned(const char *name, size_t len)
{
    static const char *const owned[] = {"content-length", "transfer-encoding", "connection", "date", "server"};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (http__eq_nocase(name, len, owned[i]))
            return true;
    return false;
}

int http_response_header(struct http_response *r, const char *name, const char *value)
{
    size_t nlen = strlen(name), vlen = strlen(value);
    if (nlen == 0 || server_owned(name, nlen))
        return -LWT_EINVAL;
    for (size_t i = 0; i < nlen; i++)
        if (!http__is_tchar((uint8_t)name[i]))
            return -LWT_EINVAL;
    for (size_t i = 0; i < vlen; i++)
        if (!http__is_value_char((uint8_t)value[i]))
            return -LWT_EINVAL; /* CR, LF, NUL: no response splitting */
    size_t need = nlen + 2 + vlen + 2;
    if (need > sizeof r->headers_ - r->headers_len_) {
        r->headers_overflow_ = true;
        return -LWT_ENOSPC;
    }
    char *at = r->headers_ + r->headers_len_;
    memcpy(at, name, nlen);
    at[nlen] = ':';
    at[nlen + 1] = ' ';
    memcpy(at + nlen + 2, value, vlen);
    at[nlen + 2 + vlen] = '\r';
    at[nlen + 3 + vlen] = '\n';
    r->headers_len_ += need;
    return 0;
}

void http_response_body(struct http_response *r, const void *data, size_t len, void (*release)(void *ctx), void *ctx)
{
    http__response_release(r); /* a body set before is given back now */
    r->body_ = data;
    r->body_len_ = len;
    r->release_ = release;
    r->release_ctx_ = ctx;
}

void http_response_content_length(struct http_response *r, uint64_t len)
{
    r->has_content_length_ = true;
    r->content_length_ = len;
}

const char *http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 205:
        return "Reset Content";
    case 206:
        return "Partial Content";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Content";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "";
    }
}

bool http_list_next(const char **at, const char *end, const char **elem, size_t *len)
{
    const char *p = *at;
    while (p < end) {
        const char *start = p;
        while (p < end && *p != ',')
            p++;
        const char *stop = p;
        if (p < end)
            p++;
        while (start < stop && (*start == ' ' || *start == '\t'))
            start++;
        while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
            stop--;
        if (stop > start) {
            *at = p;
            *elem = start;
            *len = (size_t)(stop - start);
            return true;
        }
    }
    *at = end;
    return false;
}

bool http_token_is(const char *s, size_t len, const char *lit)
{
    return http__eq_nocase(s, len, lit);
}
