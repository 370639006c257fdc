/* A bounded FIFO stream of values between promise chains, with back-pressure.
 *
 * push waits while the stream holds `capacity` values; get waits while it is
 * empty. close ends the stream: pending and later pushes are rejected with
 * -LWT_EPIPE, gets drain what is buffered and are then rejected with
 * -LWT_ENODATA (end of stream). The stream struct is caller-owned; init
 * allocates the ring buffer, destroy frees it and rejects any waiter with
 * -LWT_EPIPE. Returned promises are tasks: cancelling one withdraws it (a
 * cancelled push does not enqueue its value).
 */
#ifndef TESSERA_LWT_STREAM_H
#define TESSERA_LWT_STREAM_H

#include "lwt_sync.h"

struct lwt_stream {
    void **ring;              /* private: capacity slots */
    size_t capacity;          /* ro */
    size_t head;              /* private: index of the oldest value */
    size_t len;               /* ro: values buffered */
    bool closed;              /* ro */
    struct lwt_waitq getters; /* private */
    struct lwt_waitq pushers; /* private: each carries its value */
};

/* capacity >= 1. Returns 0 or -LWT_ENOMEM / -LWT_EINVAL. */
int lwt_stream_init(struct lwt_stream *s, size_t capacity);
/* Fulfilled (NULL) once value is in the stream or handed to a getter. */
lwt_t *lwt_stream_push(struct lwt_stream *s, void *value);
/* Fulfilled with the next value. */
lwt_t *lwt_stream_get(struct lwt_stream *s);
/* Non-blocking variants: 0, -LWT_EAGAIN (full / empty), -LWT_EPIPE (push
 * after close) or -LWT_ENODATA (get at end of stream). */
int lwt_stream_try_push(struct lwt_stream *s, void *value);
int lwt_stream_try_get(struct lwt_stream *s, void **value_out);
void lwt_stream_close(struct lwt_stream *s);
void lwt_stream_destroy(struct lwt_stream *s);

#endif
