#include "http_chunked.h"
#include "http_chars.h"
#include "lwt_errno.h"

enum {
    CH_SIZE_FIRST, /* the first hex digit of a size */
    CH_SIZE,       /* more digits, ';' or CR */
    CH_EXT,        /* a chunk extension, skipped up to CR */
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER_START, /* a trailer field's first byte, or the final CR */
    CH_TRAILER_NAME,
    CH_TRAILER_VALUE,
    CH_TRAILER_LF,
    CH_END_LF,
    CH_DONE,
};

void http__chunked_init(struct http_chunked *c, size_t max_trailer)
{
    *c = (struct http_chunked){.state = CH_SIZE_FIRST, .max_trailer = max_trailer};
}

static int append_status(int rc)
{
    return rc == -LWT_EMSGSIZE ? 413 : 503;
}

int http__chunked_decode(struct http_chunked *c, const uint8_t *in, size_t len, size_t *used, struct http_body *body)
{
    size_t i = 0;
    while (i < len) {
        if (c->state == CH_DATA) {
            size_t n = len - i < c->left ? len - i : (size_t)c->left;
            int rc = http__body_append(body, in + i, n);
            if (rc < 0)
                return append_status(rc);
            i += n;
            c->left -= n;
            if (c->left == 0)
                c->state = CH_DATA_CR;
            continue;
        }
        uint8_t b = in[i++];
        switch (c->state) {
        case CH_SIZE_FIRST:
        case CH_SIZE: {
            int h = http__hex_value(b);
            if (++c->line_bytes > HTTP_CHUNK_LINE_MAX)
                return 400;
            if (h >= 0) {
                if (c->left > (UINT64_MAX >> 4))
                    return 400; /* would overflow */
                c->left = c->left << 4 | (uint64_t)h;
                c->state = CH_SIZE;
            } else if (c->state == CH_SIZE && b == ';') {
                c->state = CH_EXT;
            } else if (c->state == CH_SIZE && b == '\r') {
                c->state = CH_SIZE_LF;
            } else {
                return 400;
            }
            break;
        }
        case CH_EXT:
            if (++c->line_bytes > HTTP_CHUNK_LINE_MAX)
                return 400;
            if (b == '\r')
                c->state = CH_SIZE_LF;
            else if (!http__is_value_char(b))
                return 400;
            break;
        case CH_SIZE_LF:
            if (b != '\n')
                return 400;
            c->line_bytes = 0;
            if (c->left == 0) {
                c->state = CH_TRAILER_START;
            } else if (c->left > body->max - body->len) {
                return 413; /* refused before a byte of it is stored */
            } else {
                c->state = CH_DATA;
            }
            break;
        case CH_DATA_CR:
            if (b != '\r')
                return 400;
            c->state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (b != '\n')
                return 400;
            c->state = CH_SIZE_FIRST;
            break;
        case CH_TRAILER_START:
        case CH_TRAILER_NAME:
        case CH_TRAILER_VALUE:
        case CH_TRAILER_LF:
        case CH_END_LF:
            if (++c->trailer_bytes > c->max_trailer)
                return 431;
            if (c->state == CH_TRAILER_START) {
                if (b == '\r')
                    c->state = CH_END_LF;
                else if (http__is_tchar(b))
                    c->state = CH_TRAILER_NAME;
                else
                    return 400; /* obs-fold, whitespace, a bare LF */
            } else if (c->state == CH_TRAILER_NAME) {
                if (b == ':')
                    c->state = CH_TRAILER_VALUE;
                else if (!http__is_tchar(b))
                    return 400;
            } else if (c->state == CH_TRAILER_VALUE) {
                if (b == '\r')
                    c->state = CH_TRAILER_LF;
                else if (!http__is_value_char(b))
                    return 400;
            } else if (c->state == CH_TRAILER_LF) {
                if (b != '\n')
                    return 400;
                c->state = CH_TRAILER_START;
            } else {
                if (b != '\n')
                    return 400;
                c->state = CH_DONE;
                *used = i;
                return HTTP_CHUNKED_DONE;
            }
            break;
        default:
            return 400;
        }
    }
    *used = i;
    return HTTP_CHUNKED_MORE;
}
