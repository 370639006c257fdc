/* The promise demo: a producer and a consumer joined by a bounded stream,
 * a request that is cancelled and recovered with catch, all written as promise
 * chains. Portable: it sees only lwt/ and reports through `say`. */
#include <stdio.h>

#include "demo.h"
#include "lwt_stream.h"

struct demo {
    struct lwt_stream pipe;
    void (*say)(const char *line);
    long sum;
};

static void sayf(struct demo *d, const char *fmt, long a, long b)
{
    char line[128];
    snprintf(line, sizeof line, fmt, a, b);
    d->say(line);
}

/* Producer: push 1..n; each push waits while the pipe is full. */
struct produce {
    struct demo *d;
    long next, last;
};

static lwt_t *produce_step(void *v, void *ctx)
{
    (void)v;
    struct produce p = *(struct produce *)ctx;
    if (p.next > p.last) {
        lwt_stream_close(&p.d->pipe);
        return lwt_return(NULL);
    }
    sayf(p.d, "producer: push %ld (buffered %ld)", p.next, (long)p.d->pipe.len);
    lwt_t *pushed = lwt_stream_push(&p.d->pipe, LWT_INT(p.next));
    p.next++;
    return lwt_bind(pushed, produce_step, LWT_CTX(p));
}

/* Consumer: get until end of stream, summing squares. */
static lwt_t *consume_step(void *v, void *ctx);

static lwt_t *consume_next(struct demo *d)
{
    lwt_t *got = lwt_stream_get(&d->pipe);
    return lwt_bind(got, consume_step, LWT_CTX(d));
}

static lwt_t *consume_step(void *v, void *ctx)
{
    struct demo *d = *(struct demo **)ctx;
    long x = (long)LWT_TO_INT(v);
    d->sum += x * x;
    sayf(d, "consumer: got %ld, sum of squares %ld", x, d->sum);
    return consume_next(d);
}

static lwt_t *end_of_stream(int err, void *ctx)
{
    struct demo *d = *(struct demo **)ctx;
    if (err != -LWT_ENODATA)
        return lwt_fail(err);
    d->say("consumer: end of stream");
    return lwt_return(NULL);
}

/* A slow request that we give up on: cancel it, recover with catch. */
static lwt_t *recover(int err, void *ctx)
{
    struct demo *d = *(struct demo **)ctx;
    sayf(d, "request: gave up (%ld), using the default %ld", (long)err, 42);
    return lwt_return(LWT_INT(42));
}

static void report(void *value, void *ctx)
{
    struct demo *d = *(struct demo **)ctx;
    sayf(d, "request: answer %ld (after %ld cancellation)", (long)LWT_TO_INT(value), 1);
}

long promise_demo_run(void (*say)(const char *line), int items)
{
    static struct demo d;
    d.say = say;
    d.sum = 0;
    if (lwt_stream_init(&d.pipe, 3) != 0)
        return -1;
    struct demo *dp = &d;

    struct produce first = {&d, 1, items};
    lwt_t *both[2] = {
        lwt_bind(lwt_return(NULL), produce_step, LWT_CTX(first)),
        lwt_catch(consume_next(&d), end_of_stream, LWT_CTX(dp)),
    };
    lwt_t *pipeline = lwt_join(both, 2);

    lwt_resolver_t *never_answered;
    lwt_t *request = lwt_catch(lwt_task(&never_answered), recover, LWT_CTX(dp));
    lwt_on_success(request, report, LWT_CTX(dp));
    lwt_cancel(request);

    /* No scheduler yet: run what the chains deferred until all settle. */
    while (lwt_run_deferred(SIZE_MAX))
        ;
    long result = lwt_state(pipeline) == LWT_FULFILLED ? d.sum : -1;
    lwt_unref(pipeline);
    lwt_unref(request);
    lwt_resolver_drop(never_answered);
    lwt_stream_destroy(&d.pipe);
    return result;
}
