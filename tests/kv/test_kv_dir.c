/* The directory store on Unix: reads, the error codes, staying inside the
 * root (dot-dot keys, symlinks out, special files), the size limit, ETags
 * that follow the file, and reads on the job pool including a cancelled
 * one and a store freed while a read is still running. */
#define _GNU_SOURCE
#include "test_support.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "scheduler.h"
#include "unix_jobs.h"
#include "unix_kv_dir.h"
#include "unix_platform.h"

static char base[64]; /* a fresh directory per test */
static char root[96]; /* base/root: the store's root */

static void path_of(char *buf, size_t size, const char *rel)
{
    snprintf(buf, size, "%s/%s", base, rel);
}

static void put(const char *rel, const char *content)
{
    char p[256];
    path_of(p, sizeof p, rel);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(content, f);
    assert_int_equal(fclose(f), 0);
}

static void mkdir_rel(const char *rel)
{
    char p[256];
    path_of(p, sizeof p, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static int setup(void **state)
{
    snprintf(base, sizeof base, "/tmp/tessera-kv-dir-XXXXXX");
    if (!mkdtemp(base))
        return -1;
    snprintf(root, sizeof root, "%s/root", base);
    mkdir_rel("root");
    mkdir_rel("root/docs");
    put("root/index.html", "<!DOCTYPE html><title>t</title>\n");
    put("root/docs/index.html", "docs\n");
    put("root/style.css", "body{}\n");
    put("root/noext", "");
    put("outside.txt", "secret\n");
    return test_setup(state);
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0)
        return -1;
    return test_teardown(state);
}

static struct kv *open_store(void)
{
    struct kv *kv;
    assert_int_equal(unix_kv_dir_new(root, &kv), 0);
    assert_non_null(kv);
    return kv;
}

/* Without the job pool, a get settles at once. */
static int get(struct kv *kv, const char *key, const struct kv_entry **out)
{
    lwt_t *p = kv_get(kv, key, strlen(key));
    assert_int_not_equal(lwt_state(p), LWT_PENDING);
    int err = lwt_state(p) == LWT_REJECTED ? lwt_error(p) : 0;
    if (out)
        *out = err ? NULL : lwt_value(p);
    lwt_unref(p);
    return err;
}

static void reads_files(void **state)
{
    (void)state;
    struct kv *kv = open_store();
    const struct kv_entry *e;
    assert_int_equal(get(kv, "index.html", &e), 0);
    assert_int_equal(e->len, 32);
    assert_memory_equal(e->data, "<!DOCTYPE html><title>t</title>\n", 32);
    assert_string_equal(e->content_type, "text/html; charset=utf-8");
    struct stat st;
    char p[256];
    path_of(p, sizeof p, "root/index.html");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(e->mtime, st.st_mtime);
    char etag[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size, (unsigned long long)st.st_mtime);
    assert_string_equal(e->etag, etag);
    kv_release(kv, e);

    assert_int_equal(get(kv, "docs/index.html", &e), 0);
    assert_memory_equal(e->data, "docs\n", 5);
    kv_release(kv, e);
    assert_int_equal(get(kv, "style.css", &e), 0);
    assert_string_equal(e->content_type, "text/css; charset=utf-8");
    kv_release(kv, e);
    assert_int_equal(get(kv, "noext", &e), 0);
    assert_int_equal(e->len, 0);
    assert_string_equal(e->content_type, "application/octet-stream");
    kv_release(kv, e);
    unix_kv_dir_free(kv);
}

static void error_codes(void **state)
{
    (void)state;
    struct kv *kv = open_store();
    assert_int_equal(get(kv, "docs", NULL), -LWT_EISDIR);
    assert_int_equal(get(kv, "nope.html", NULL), -LWT_ENOENT);
    assert_int_equal(get(kv, "docs/nope", NULL), -LWT_ENOENT);
    assert_int_equal(get(kv, "index.html/x", NULL), -LWT_ENOTDIR);
    assert_int_equal(get(kv, "..", NULL), -LWT_EINVAL);
    assert_int_equal(get(kv, "../outside.txt", NULL), -LWT_EINVAL);
    assert_int_equal(get(kv, "docs/../../outside.txt", NULL), -LWT_EINVAL);
    assert_int_equal(get(kv, "/etc/passwd", NULL), -LWT_EINVAL);
    assert_int_equal(get(kv, "", NULL), -LWT_EINVAL);
    assert_int_equal(get(kv, "docs/", NULL), -LWT_EINVAL);
    unix_kv_dir_free(kv);
}

static void new_errors(void **state)
{
    (void)state;
    struct kv *kv = (struct kv *)1;
    char p[256];
    path_of(p, sizeof p, "missing");
    assert_int_equal(unix_kv_dir_new(p, &kv), -LWT_ENOENT);
    assert_null(kv);
    path_of(p, sizeof p, "outside.txt");
    assert_int_equal(unix_kv_dir_new(p, &kv), -LWT_ENOTDIR);
    assert_null(kv);
    unix_kv_dir_free(NULL);
}

static void symlinks_stay_inside(void **state)
{
    (void)state;
    char p[256], target[256];
    /* Out of the root, relative and absolute: refused. */
    path_of(p, sizeof p, "root/escape.txt");
    assert_int_equal(symlink("../outside.txt", p), 0);
    path_of(target, sizeof target, "outside.txt");
    path_of(p, sizeof p, "root/escape-abs.txt");
    assert_int_equal(symlink(target, p), 0);
    path_of(p, sizeof p, "root/updir");
    assert_int_equal(symlink("..", p), 0);
    /* Inside: followed. */
    path_of(p, sizeof p, "root/alias.css");
    assert_int_equal(symlink("style.css", p), 0);
    path_of(p, sizeof p, "root/docs/up.css");
    assert_int_equal(symlink("../style.css", p), 0);

    struct kv *kv = open_store();
    assert_int_equal(get(kv, "escape.txt", NULL), -LWT_EACCES);
    assert_int_equal(get(kv, "escape-abs.txt", NULL), -LWT_EACCES);
    assert_int_equal(get(kv, "updir/outside.txt", NULL), -LWT_EACCES);
    const struct kv_entry *e;
    assert_int_equal(get(kv, "alias.css", &e), 0);
    assert_memory_equal(e->data, "body{}\n", 7);
    kv_release(kv, e);
    assert_int_equal(get(kv, "docs/up.css", &e), 0);
    kv_release(kv, e);
    unix_kv_dir_free(kv);
}

static void special_files_refused(void **state)
{
    (void)state;
    char p[256];
    path_of(p, sizeof p, "root/fifo");
    assert_int_equal(mkfifo(p, 0644), 0);
    struct kv *kv = open_store();
    /* Refused, without waiting for a writer. */
    assert_int_equal(get(kv, "fifo", NULL), -LWT_EACCES);
    unix_kv_dir_free(kv);
}

static void too_big_is_efbig(void **state)
{
    (void)state;
    char p[256];
    path_of(p, sizeof p, "root/big.bin");
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    /* Sparse: costs no disk. */
    assert_int_equal(ftruncate(fd, ((off_t)64 << 20) + 1), 0);
    close(fd);
    struct kv *kv = open_store();
    assert_int_equal(get(kv, "big.bin", NULL), -LWT_EFBIG);
    /* At the limit it loads. */
    assert_int_equal(truncate(p, (off_t)64 << 20), 0);
    const struct kv_entry *e;
    assert_int_equal(get(kv, "big.bin", &e), 0);
    assert_int_equal(e->len, (size_t)64 << 20);
    kv_release(kv, e);
    unix_kv_dir_free(kv);
}

static char *etag_of(struct kv *kv, const char *key)
{
    const struct kv_entry *e;
    assert_int_equal(get(kv, key, &e), 0);
    char *s = strdup(e->etag);
    kv_release(kv, e);
    return s;
}

static void etag_follows_the_file(void **state)
{
    (void)state;
    struct kv *kv = open_store();
    char p[256];
    path_of(p, sizeof p, "root/style.css");
    struct timespec t[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
    char *a = etag_of(kv, "style.css");
    assert_string_equal(a, "\"7-3b9aca00\"");
    /* Same size, another mtime. */
    t[1].tv_sec = 1000000001;
    assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
    char *b = etag_of(kv, "style.css");
    assert_string_not_equal(a, b);
    /* Same mtime, another size. */
    put("root/style.css", "body{color:red}\n");
    assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
    char *c = etag_of(kv, "style.css");
    assert_string_not_equal(b, c);
    assert_string_equal(c, "\"10-3b9aca01\"");
    free(a);
    free(b);
    free(c);
    unix_kv_dir_free(kv);
}

/* ---- On the job pool --------------------------------------------------- */

static int pool_setup(void **state)
{
    if (setup(state) != 0 || unix_platform_start(NULL) != 0)
        return -1;
    test_support_install_platform();
    return unix_jobs_start(2);
}

static int pool_teardown(void **state)
{
    unix_jobs_stop();
    size_t left = unix_jobs_in_flight();
    unix_platform_stop();
    if (left != 0) {
        fprintf(stderr, "%zu jobs still in flight\n", left);
        return -1;
    }
    return teardown(state);
}

static lwt_t *idle_step(void *value, void *ctx)
{
    (void)value;
    (void)ctx;
    if (unix_jobs_in_flight() == 0)
        return lwt_return(NULL);
    return lwt_bind(sched_sleep(SCHED_NS_PER_MS), idle_step, LWT_NOCTX);
}

static void reads_on_the_pool(void **state)
{
    (void)state;
    struct kv *kv = open_store();
    lwt_t *p = kv_get(kv, "index.html", 10);
    assert_pending(p);
    void *v;
    assert_int_equal(sched_run(p, &v), 0);
    const struct kv_entry *e = v;
    assert_int_equal(e->len, 32);
    assert_string_equal(e->content_type, "text/html; charset=utf-8");
    kv_release(kv, e);

    assert_int_equal(sched_run(kv_get(kv, "docs", 4), NULL), -LWT_EISDIR);
    assert_int_equal(sched_run(kv_get(kv, "nope", 4), NULL), -LWT_ENOENT);
    /* Checked before any job. */
    lwt_t *bad = kv_get(kv, "..", 2);
    assert_int_equal(lwt_error(bad), -LWT_EINVAL);
    lwt_unref(bad);
    unix_kv_dir_free(kv);
}

static void cancelled_reads_free_their_entries(void **state)
{
    (void)state;
    struct kv *kv = open_store();
    lwt_t *ps[8];
    for (size_t i = 0; i < 8; i++)
        ps[i] = kv_get(kv, "index.html", 10);
    for (size_t i = 0; i < 8; i++) {
        lwt_cancel(ps[i]);
        assert_int_equal(lwt_error(ps[i]), -LWT_ECANCELED);
        lwt_unref(ps[i]);
    }
    assert_int_equal(sched_run(idle_step(NULL, NULL), NULL), 0);
    unix_kv_dir_free(kv);
}

static void store_freed_while_reading(void **state)
{
    (void)state;
    struct kv *kv = open_store();
    lwt_t *p = kv_get(kv, "style.css", 9);
    lwt_cancel(p);
    lwt_unref(p);
    /* The store goes; a read still running keeps its root open. */
    unix_kv_dir_free(kv);
    assert_int_equal(sched_run(idle_step(NULL, NULL), NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reads_files, setup, teardown),
        cmocka_unit_test_setup_teardown(error_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(new_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(symlinks_stay_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(special_files_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(too_big_is_efbig, setup, teardown),
        cmocka_unit_test_setup_teardown(etag_follows_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(reads_on_the_pool, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(cancelled_reads_free_their_entries, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(store_freed_while_reading, pool_setup, pool_teardown),
    };
    return RUN_TESTS(tests);
}
