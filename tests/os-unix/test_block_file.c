/* The file block device: opening (errors, the size in whole sectors),
 * reads, writes and flushes on the loop thread and on the job pool, a
 * request many pieces long, cancellation (the caller's buffer is left
 * alone), closing with a cancelled job still running, a file that shrinks
 * under the device, and read-only devices. */
#include "test_support.h"

#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scheduler.h"
#include "unix_block_file.h"
#include "unix_jobs.h"
#include "unix_platform.h"

static char path[64];

static int setup(void **state)
{
    (void)state;
    if (test_setup(NULL) != 0 || unix_platform_start(NULL) != 0)
        return -1;
    test_support_install_platform();
    snprintf(path, sizeof path, "/tmp/tessera-blk-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    unix_jobs_stop();
    size_t left = unix_jobs_in_flight();
    unix_platform_stop();
    unlink(path);
    if (left != 0) {
        fprintf(stderr, "%zu jobs still in flight\n", left);
        return -1;
    }
    return test_teardown(state);
}

static void set_size(off_t size)
{
    assert_int_equal(truncate(path, size), 0);
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 7 + seed + (i >> 12));
}

/* The bytes of the file at [offset, offset + len), read directly. */
static uint8_t *file_bytes(off_t offset, size_t len)
{
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, offset), (ssize_t)len);
    close(fd);
    return buf;
}

/* Runs the loop until every job has been handled. */
static lwt_t *idle_step(void *value, void *ctx)
{
    (void)value;
    (void)ctx;
    if (unix_jobs_in_flight() == 0)
        return lwt_return(NULL);
    return lwt_bind(sched_sleep(SCHED_NS_PER_MS), idle_step, LWT_NOCTX);
}

static void wait_idle(void)
{
    assert_int_equal(sched_run(idle_step(NULL, NULL), NULL), 0);
}

static void open_errors_and_size(void **state)
{
    (void)state;
    struct block *b;
    assert_int_equal(unix_block_file_open("/nonexistent/disk.img", false, 0, &b), -LWT_ENOENT);
    assert_null(b);
    assert_int_equal(unix_block_file_open("/tmp", true, 0, &b), -LWT_EISDIR);
    assert_int_equal(unix_block_file_open(path, false, 3000, &b), -LWT_EINVAL);
    assert_int_equal(unix_block_file_open("/dev/null", true, 0, &b), -LWT_EINVAL);

    set_size(5000);
    assert_int_equal(unix_block_file_open(path, false, 0, &b), 0);
    assert_int_equal(b->sector_size, 512);
    assert_int_equal(b->sectors, 9); /* the partial last sector is not part of it */
    assert_false(b->read_only);
    unix_block_file_close(b);
    assert_int_equal(unix_block_file_open(path, true, 4096, &b), 0);
    assert_int_equal(b->sectors, 1);
    assert_true(b->read_only);
    uint8_t buf[4096];
    lwt_t *p = block_write(b, 0, buf, sizeof buf);
    assert_int_equal(lwt_error(p), -LWT_EROFS);
    lwt_unref(p);
    unix_block_file_close(b);
}

/* A write, a flush and a read back of len bytes at sector 3; the file is
 * checked directly. */
static void round_trip(size_t len, bool on_pool)
{
    set_size((off_t)(len + 8 * 512));
    struct block *b;
    assert_int_equal(unix_block_file_open(path, false, 0, &b), 0);
    uint8_t *out = malloc(len), *in = malloc(len);
    assert_non_null(out);
    assert_non_null(in);
    fill(out, len, (unsigned)len);
    memset(in, 0, len);

    lwt_t *w = block_write(b, 3, out, len);
    /* Without the pool it all happens here and now (the callbacks may
     * still wait for the scheduler's queue). */
    drain();
    if (!on_pool)
        assert_fulfilled(w);
    assert_int_equal(sched_run(w, NULL), 0);
    assert_int_equal(sched_run(block_flush(b), NULL), 0);
    assert_int_equal(sched_run(block_read(b, 3, in, len), NULL), 0);
    assert_memory_equal(in, out, len);
    uint8_t *direct = file_bytes(3 * 512, len);
    assert_memory_equal(direct, out, len);
    uint8_t *before = file_bytes(0, 3 * 512);
    for (size_t i = 0; i < 3 * 512; i++)
        assert_int_equal(before[i], 0);
    assert_int_equal(b->stats.writes, 1);
    assert_int_equal(b->stats.written_bytes, len);
    assert_int_equal(b->stats.reads, 1);
    assert_int_equal(b->stats.read_bytes, len);
    assert_int_equal(b->stats.flushes, 1);
    assert_int_equal(b->stats.errors, 0);
    free(before);
    free(direct);
    free(out);
    free(in);
    unix_block_file_close(b);
}

static void round_trip_on_the_loop(void **state)
{
    (void)state;
    round_trip(5 * 512, false);
    round_trip(2 * UNIX_BLOCK_FILE_CHUNK + 3 * 512, false);
}

static void round_trip_on_the_pool(void **state)
{
    (void)state;
    assert_int_equal(unix_jobs_start(2), 0);
    round_trip(512, true);
    /* Three pieces, the last a short one. */
    round_trip(2 * UNIX_BLOCK_FILE_CHUNK + 3 * 512, true);
    assert_int_equal(unix_jobs_in_flight(), 0);
}

/* A job that says it has started, then waits to be released. */
static void *gated(void *arg, int *err)
{
    sem_t **gate = arg;
    (void)err;
    sem_post(gate[0]);
    while (sem_wait(gate[1]) != 0)
        ;
    return NULL;
}

static void cancelled_requests_leave_buffers_alone(void **state)
{
    (void)state;
    assert_int_equal(unix_jobs_start(1), 0);
    size_t len = 3 * UNIX_BLOCK_FILE_CHUNK;
    set_size((off_t)len);
    struct block *b;
    assert_int_equal(unix_block_file_open(path, false, 0, &b), 0);
    uint8_t *in = malloc(len);
    assert_non_null(in);
    for (int round = 0; round < 20; round++) {
        memset(in, 0xAA, len);
        lwt_t *p = block_read(b, 0, in, len);
        lwt_cancel(p);
        drain();
        assert_int_equal(lwt_error(p), -LWT_ECANCELED);
        lwt_unref(p);
        wait_idle();
        for (size_t i = 0; i < len; i += 4096)
            assert_int_equal(in[i], 0xAA);
    }
    /* Cancelled after its first piece, while the second waits behind a
     * job that holds the one worker: the rest never runs. */
    sem_t started, release;
    sem_init(&started, 0, 0);
    sem_init(&release, 0, 0);
    memset(in, 0xAA, len);
    lwt_t *p = block_read(b, 0, in, len);
    sem_t *gate[2] = {&started, &release};
    lwt_t *blocker = unix_job_submit(gated, gate, NULL);
    while (sem_wait(&started) != 0)
        ;
    while (in[0] == 0xAA)
        assert_int_equal(sched_run(sched_sleep(SCHED_NS_PER_MS), NULL), 0);
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_unref(p);
    sem_post(&release);
    assert_int_equal(sched_run(blocker, NULL), 0);
    wait_idle();
    for (size_t i = 0; i < UNIX_BLOCK_FILE_CHUNK; i += 4096)
        assert_int_equal(in[i], 0);
    for (size_t i = UNIX_BLOCK_FILE_CHUNK; i < len; i += 4096)
        assert_int_equal(in[i], 0xAA);
    assert_int_equal(b->stats.reads, 0);
    assert_int_equal(b->stats.errors, 0);
    sem_destroy(&started);
    sem_destroy(&release);
    free(in);
    unix_block_file_close(b);
}

static void closed_with_a_job_running(void **state)
{
    (void)state;
    assert_int_equal(unix_jobs_start(1), 0);
    size_t len = UNIX_BLOCK_FILE_CHUNK;
    set_size((off_t)len);
    struct block *b;
    assert_int_equal(unix_block_file_open(path, false, 0, &b), 0);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    fill(buf, len, 1);
    lwt_t *w = block_write(b, 0, buf, len);
    lwt_t *f = block_flush(b);
    lwt_cancel(w);
    lwt_cancel(f);
    lwt_unref(w);
    lwt_unref(f);
    /* The jobs keep the descriptor until they are done. */
    unix_block_file_close(b);
    free(buf);
    wait_idle();
}

static void file_shrinks_under_the_device(void **state)
{
    (void)state;
    set_size(8 * 512);
    struct block *b;
    assert_int_equal(unix_block_file_open(path, false, 0, &b), 0);
    set_size(4 * 512);
    uint8_t buf[2 * 512];
    assert_int_equal(sched_run(block_read(b, 2, buf, sizeof buf), NULL), 0);
    assert_int_equal(sched_run(block_read(b, 3, buf, sizeof buf), NULL), -LWT_EIO);
    assert_int_equal(sched_run(block_read(b, 8, buf, 512), NULL), -LWT_ERANGE);
    assert_int_equal(b->stats.errors, 1);
    assert_int_equal(unix_jobs_start(1), 0);
    assert_int_equal(sched_run(block_read(b, 6, buf, sizeof buf), NULL), -LWT_EIO);
    assert_int_equal(b->stats.errors, 2);
    unix_block_file_close(b);
}

int main(void)
{
#define BLK_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        BLK_TEST(open_errors_and_size),      BLK_TEST(round_trip_on_the_loop),
        BLK_TEST(round_trip_on_the_pool),    BLK_TEST(cancelled_requests_leave_buffers_alone),
        BLK_TEST(closed_with_a_job_running), BLK_TEST(file_shrinks_under_the_device),
    };
    return RUN_TESTS(tests);
}
