/* The block interface's argument checks and the memory device: reads and
 * writes of any length at every sector size, read-only devices, requests
 * held and completed in order, cancelled while held (the buffer is left
 * alone), failures injected on a range, the counters, and freeing with
 * requests still held. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#include "block_mem.h"

/* The error of a settled promise (0 if fulfilled); drops it. */
static int settled(lwt_t *p)
{
    drain();
    assert_int_not_equal(lwt_state(p), LWT_PENDING);
    int err = lwt_error(p);
    lwt_unref(p);
    return err;
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 31 + seed + (i >> 9));
}

static void sector_sizes(void **state)
{
    (void)state;
    assert_false(block_sector_size_ok(0));
    assert_false(block_sector_size_ok(256));
    assert_false(block_sector_size_ok(1000));
    assert_false(block_sector_size_ok(8192));
    assert_true(block_sector_size_ok(512));
    assert_true(block_sector_size_ok(1024));
    assert_true(block_sector_size_ok(4096));
    struct block *b;
    assert_int_equal(block_mem_new(1000, 8, false, &b), -LWT_EINVAL);
    assert_null(b);
    assert_int_equal(block_mem_new(512, UINT64_MAX / 256, false, &b), -LWT_EINVAL);
    assert_null(b);
}

static void checks_arguments(void **state)
{
    (void)state;
    struct block *b;
    assert_int_equal(block_mem_new(512, 16, false, &b), 0);
    uint8_t buf[1024];
    assert_int_equal(block_check(b, 0, buf, 1024, false), 0);
    assert_int_equal(block_check(b, 14, buf, 1024, true), 0);
    assert_int_equal(block_check(b, 16, buf, 0, false), 0);
    assert_int_equal(block_check(b, 0, buf, 100, false), -LWT_EINVAL);
    assert_int_equal(block_check(b, 0, NULL, 512, false), -LWT_EINVAL);
    assert_int_equal(block_check(b, 15, buf, 1024, false), -LWT_ERANGE);
    assert_int_equal(block_check(b, 17, buf, 0, false), -LWT_ERANGE);
    /* Sector numbers that would wrap around. */
    assert_int_equal(block_check(b, UINT64_MAX, buf, 512, false), -LWT_ERANGE);
    assert_int_equal(block_check(b, UINT64_MAX - 1, buf, 1024, true), -LWT_ERANGE);

    /* The device applies them. */
    assert_int_equal(settled(block_read(b, 0, buf, 100)), -LWT_EINVAL);
    assert_int_equal(settled(block_write(b, 16, buf, 512)), -LWT_ERANGE);
    assert_int_equal(settled(block_read(b, 3, buf, 0)), 0);
    assert_int_equal(b->stats.errors, 0);
    block_mem_free(b);

    assert_int_equal(block_mem_new(512, 16, true, &b), 0);
    assert_true(b->read_only);
    assert_int_equal(settled(block_write(b, 0, buf, 512)), -LWT_EROFS);
    assert_int_equal(settled(block_read(b, 0, buf, 512)), 0);
    block_mem_free(b);
}

static void round_trip_every_sector_size(void **state)
{
    (void)state;
    for (uint32_t ss = 512; ss <= 4096; ss *= 2) {
        struct block *b;
        assert_int_equal(block_mem_new(ss, 64, false, &b), 0);
        assert_int_equal(b->sector_size, ss);
        assert_int_equal(b->sectors, 64);
        assert_int_equal(block_size_bytes(b), 64 * ss);
        size_t len = 37 * (size_t)ss;
        uint8_t *out = malloc(len), *in = malloc(len);
        assert_non_null(out);
        assert_non_null(in);
        fill(out, len, ss);
        assert_int_equal(settled(block_write(b, 5, out, len)), 0);
        memset(in, 0xEE, len);
        assert_int_equal(settled(block_read(b, 5, in, len)), 0);
        assert_memory_equal(in, out, len);
        /* Where it went: nothing before sector 5 or after sector 41. */
        const uint8_t *data = block_mem_data(b);
        for (size_t i = 0; i < 5 * (size_t)ss; i++)
            assert_int_equal(data[i], 0);
        assert_memory_equal(data + 5 * (size_t)ss, out, len);
        for (size_t i = 42 * (size_t)ss; i < 64 * (size_t)ss; i++)
            assert_int_equal(data[i], 0);
        assert_int_equal(settled(block_flush(b)), 0);
        assert_int_equal(b->stats.writes, 1);
        assert_int_equal(b->stats.written_bytes, len);
        assert_int_equal(b->stats.reads, 1);
        assert_int_equal(b->stats.read_bytes, len);
        assert_int_equal(b->stats.flushes, 1);
        free(out);
        free(in);
        block_mem_free(b);
    }
}

static void made_from_bytes(void **state)
{
    (void)state;
    uint8_t bytes[700];
    fill(bytes, sizeof bytes, 7);
    struct block *b;
    assert_int_equal(block_mem_new_from(bytes, sizeof bytes, 512, true, &b), 0);
    assert_int_equal(b->sectors, 2);
    uint8_t in[1024];
    assert_int_equal(settled(block_read(b, 0, in, sizeof in)), 0);
    assert_memory_equal(in, bytes, sizeof bytes);
    for (size_t i = sizeof bytes; i < sizeof in; i++)
        assert_int_equal(in[i], 0);
    block_mem_free(b);
}

static void held_requests_complete_in_order(void **state)
{
    (void)state;
    struct block *b;
    assert_int_equal(block_mem_new(512, 8, false, &b), 0);
    block_mem_hold(b, true);
    uint8_t a[512], c[512], in[512];
    memset(a, 'a', sizeof a);
    memset(c, 'c', sizeof c);
    lwt_t *w1 = block_write(b, 1, a, 512);
    lwt_t *w2 = block_write(b, 1, c, 512);
    lwt_t *r = block_read(b, 1, in, 512);
    lwt_t *f = block_flush(b);
    assert_pending(w1);
    assert_pending(f);
    assert_int_equal(block_mem_held(b), 4);
    /* Nothing has moved yet: the data is copied at completion. */
    assert_int_equal(block_mem_data(b)[512], 0);
    memset(a, 'A', sizeof a);

    assert_int_equal(block_mem_complete(b, 1), 1);
    assert_int_equal(settled(w1), 0);
    assert_int_equal(block_mem_data(b)[512], 'A');
    assert_pending(w2);
    assert_int_equal(block_mem_complete(b, 10), 3);
    assert_int_equal(settled(w2), 0);
    assert_int_equal(settled(r), 0);
    assert_int_equal(in[0], 'c');
    assert_int_equal(settled(f), 0);
    assert_int_equal(block_mem_held(b), 0);
    assert_int_equal(block_mem_complete(b, 1), 0);

    /* Released: completes at once again. */
    block_mem_hold(b, false);
    assert_int_equal(settled(block_read(b, 1, in, 512)), 0);
    block_mem_free(b);
}

static void cancelled_while_held(void **state)
{
    (void)state;
    struct block *b;
    assert_int_equal(block_mem_new(512, 8, false, &b), 0);
    memset(block_mem_data(b), 'd', 8 * 512);
    block_mem_hold(b, true);
    uint8_t in[1024], out[512];
    memset(in, 0x55, sizeof in);
    memset(out, 'o', sizeof out);
    lwt_t *r1 = block_read(b, 0, in, 512);
    lwt_t *w = block_write(b, 2, out, 512);
    lwt_t *r2 = block_read(b, 1, in + 512, 512);
    lwt_cancel(r1);
    lwt_cancel(w);
    assert_int_equal(settled(r1), -LWT_ECANCELED);
    assert_int_equal(settled(w), -LWT_ECANCELED);
    assert_int_equal(block_mem_held(b), 1);
    assert_int_equal(block_mem_complete(b, 5), 1);
    assert_int_equal(settled(r2), 0);
    /* The cancelled read left its half alone; the cancelled write never
     * happened. */
    for (size_t i = 0; i < 512; i++)
        assert_int_equal(in[i], 0x55);
    assert_int_equal(in[512], 'd');
    assert_int_equal(block_mem_data(b)[2 * 512], 'd');
    assert_int_equal(b->stats.errors, 0);
    block_mem_free(b);
}

static void freed_with_requests_held(void **state)
{
    (void)state;
    struct block *b;
    assert_int_equal(block_mem_new(512, 8, false, &b), 0);
    block_mem_hold(b, true);
    uint8_t in[512];
    lwt_t *r = block_read(b, 0, in, 512);
    lwt_t *f = block_flush(b);
    block_mem_free(b);
    assert_int_equal(settled(r), -LWT_ECANCELED);
    assert_int_equal(settled(f), -LWT_ECANCELED);
}

static void failures_on_a_range(void **state)
{
    (void)state;
    struct block *b;
    assert_int_equal(block_mem_new(512, 16, false, &b), 0);
    uint8_t buf[4 * 512];
    memset(buf, 0x11, sizeof buf);
    block_mem_fail(b, 6, 2, -LWT_EIO, false);
    assert_int_equal(settled(block_read(b, 2, buf, 4 * 512)), 0);        /* 2..5 */
    assert_int_equal(settled(block_read(b, 3, buf, 4 * 512)), -LWT_EIO); /* 3..6 */
    assert_int_equal(settled(block_write(b, 7, buf, 512)), -LWT_EIO);
    assert_int_equal(settled(block_write(b, 8, buf, 4 * 512)), 0);
    assert_int_equal(settled(block_flush(b)), 0);
    assert_int_equal(b->stats.errors, 2);
    block_mem_fail(b, 0, 0, -LWT_ENOSPC, true);
    assert_int_equal(settled(block_flush(b)), -LWT_ENOSPC);
    assert_int_equal(settled(block_read(b, 0, buf, 512)), 0);
    block_mem_fail(b, 0, 0, 0, false);
    assert_int_equal(settled(block_flush(b)), 0);
    assert_int_equal(settled(block_read(b, 6, buf, 512)), 0);
    /* A held request fails at completion. */
    block_mem_fail(b, 0, 16, -LWT_EIO, false);
    block_mem_hold(b, true);
    lwt_t *r = block_read(b, 0, buf, 512);
    assert_int_equal(block_mem_complete(b, 1), 1);
    assert_int_equal(settled(r), -LWT_EIO);
    block_mem_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(sector_sizes),
        TEST(checks_arguments),
        TEST(round_trip_every_sector_size),
        TEST(made_from_bytes),
        TEST(held_requests_complete_in_order),
        TEST(cancelled_while_held),
        TEST(freed_with_requests_held),
        TEST(failures_on_a_range),
    };
    return RUN_TESTS(tests);
}
