/* Packet buffers: counts and destructors, headroom, and the bounds-checked
 * readers and writers that every parser goes through. */
#include "test_support.h"

#include "lwt_errno.h"
#include "net_buf.h"

static int destroyed;

static void count_destroy(struct net_buf *b)
{
    (void)b;
    destroyed++;
}

static void wrapped_memory_comes_back_through_the_destructor(void **state)
{
    (void)state;
    uint8_t mem[64];
    struct net_buf b;
    destroyed = 0;
    net_buf_init(&b, mem, sizeof mem, count_destroy, NULL);
    struct net_slice s = {net_buf_ref(&b), 10, 20};
    struct net_slice t = net_slice_share(&s);
    net_buf_unref(&b);
    net_slice_release(&s);
    assert_int_equal(destroyed, 0);
    assert_null(s.buf);
    net_slice_release(&t);
    assert_int_equal(destroyed, 1);
}

static void alloc_push_pull_trim(void **state)
{
    (void)state;
    struct net_slice s;
    assert_int_equal(net_slice_alloc(&s, 14, 100), 0);
    assert_int_equal(net_buf_live_count(), 1);
    assert_int_equal(net_slice_headroom(&s), 14);
    assert_int_equal(s.len, 100);
    uint8_t *payload = net_slice_data(&s);
    assert_int_equal(net_slice_push(&s, 14), 0);
    assert_ptr_equal(net_slice_data(&s) + 14, payload);
    assert_int_equal(net_slice_push(&s, 1), -LWT_ENOBUFS); /* no headroom left */
    assert_int_equal(s.len, 114);
    assert_int_equal(net_slice_pull(&s, 114), 0);
    assert_int_equal(s.len, 0);
    assert_int_equal(net_slice_pull(&s, 1), -LWT_EBADMSG);
    assert_int_equal(net_slice_push(&s, 100), 0);
    assert_int_equal(net_slice_trim(&s, 101), -LWT_EBADMSG);
    assert_int_equal(net_slice_trim(&s, 8), 0);
    assert_int_equal(s.len, 8);
    net_slice_release(&s);
    assert_int_equal(net_buf_live_count(), 0);
}

static void copy_keeps_the_bytes(void **state)
{
    (void)state;
    struct net_slice s;
    assert_int_equal(net_slice_copy(&s, 4, "hello", 5), 0);
    assert_memory_equal(net_slice_data(&s), "hello", 5);
    net_slice_release(&s);
    net_slice_release(&s); /* the empty slice releases nothing */
}

static void reads_are_big_endian_and_bounded(void **state)
{
    (void)state;
    const uint8_t pkt[] = {0x12, 0x34, 0x56, 0x78, 0x9a};
    struct net_rd r = net_rd_mem(pkt, sizeof pkt);
    assert_int_equal(net_u8(&r, 4), 0x9a);
    assert_int_equal(net_be16(&r, 0), 0x1234);
    assert_int_equal(net_be32(&r, 1), 0x3456789a);
    assert_false(r.bad);
    /* Each read past the end gives 0 and marks the reader. */
    assert_int_equal(net_be32(&r, 2), 0);
    assert_true(r.bad);
    r = net_rd_mem(pkt, sizeof pkt);
    assert_int_equal(net_be16(&r, 4), 0);
    assert_true(r.bad);
    r = net_rd_mem(pkt, sizeof pkt);
    assert_int_equal(net_u8(&r, (size_t)-1), 0); /* no wrap-around */
    assert_true(r.bad);
    r = net_rd_mem(pkt, sizeof pkt);
    uint8_t out[4] = {1, 1, 1, 1};
    net_rd_bytes(&r, 3, out, 4);
    assert_true(r.bad);
    assert_int_equal(out[0] | out[1] | out[2] | out[3], 0);
}

static void writes_are_big_endian_and_bounded(void **state)
{
    (void)state;
    uint8_t pkt[6] = {0};
    struct net_wr w = net_wr_mem(pkt, sizeof pkt);
    net_put_be16(&w, 0, 0xabcd);
    net_put_be32(&w, 2, 0x01020304);
    assert_false(w.bad);
    const uint8_t want[] = {0xab, 0xcd, 1, 2, 3, 4};
    assert_memory_equal(pkt, want, 6);
    net_put_be16(&w, 5, 0xffff);
    assert_true(w.bad);
    assert_int_equal(pkt[5], 4); /* untouched */
    net_put_bytes(&w, 0, "1234567", 7);
    assert_memory_equal(pkt, want, 6);
}

static void slice_reader_sees_only_the_slice(void **state)
{
    (void)state;
    struct net_slice s;
    assert_int_equal(net_slice_copy(&s, 0, "\x01\x02\x03\x04", 4), 0);
    assert_int_equal(net_slice_pull(&s, 1), 0);
    assert_int_equal(net_slice_trim(&s, 2), 0);
    struct net_rd r = net_rd_of(&s);
    assert_int_equal(net_be16(&r, 0), 0x0203);
    assert_int_equal(net_u8(&r, 2), 0); /* byte 4 is in the buffer, not the slice */
    assert_true(r.bad);
    net_slice_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(wrapped_memory_comes_back_through_the_destructor),
        TEST(alloc_push_pull_trim),
        TEST(copy_keeps_the_bytes),
        TEST(reads_are_big_endian_and_bounded),
        TEST(writes_are_big_endian_and_bounded),
        TEST(slice_reader_sees_only_the_slice),
    };
    return RUN_TESTS(tests);
}
