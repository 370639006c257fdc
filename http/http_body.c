#include <stdlib.h>
#include <string.h>

#include "http_body.h"
#include "lwt_errno.h"

#define BODY_FIRST_CAP 1024

int http__body_append(struct http_body *b, const uint8_t *bytes, size_t n)
{
    if (n == 0)
        return 0; /* and data may still be NULL */
    if (n > b->max - b->len)
        return -LWT_EMSGSIZE;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : BODY_FIRST_CAP;
        while (cap < b->len + n)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        if (cap > b->max)
            cap = b->max;
        uint8_t *data = malloc(cap);
        if (!data)
            return -LWT_ENOMEM;
        if (b->len)
            memcpy(data, b->data, b->len);
        free(b->data);
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
    return 0;
}

void http__body_reset(struct http_body *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
