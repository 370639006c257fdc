/* See unix_app_storage.h. */
#include "unix_app_storage.h"

#include <stdio.h>
#include <string.h>

#include "kv_disk.h"
#include "log.h"
#include "scheduler.h"
#include "unix_block_file.h"
#include "unix_jobs.h"

static struct log_source main_log = LOG_SOURCE("main");

int unix_app_storage_options(int *argc, char ***argv, struct unix_app_storage *st)
{
    int n = *argc, i = 1;
    char **v = *argv;
    for (; i < n; i++) {
        const char *opt = v[i];
        if (strcmp(opt, "--") == 0) {
            i++;
            break;
        }
        bool block = strcmp(opt, "--block") == 0, kv = strcmp(opt, "--kv-disk") == 0;
        if (!block && !kv)
            break; /* the app's */
        if (i + 1 >= n) {
            fprintf(stderr, "%s: %s needs a file\n", v[0], opt);
            return -LWT_EINVAL;
        }
        if (block)
            st->block_path = v[++i];
        else
            st->kv_path = v[++i];
    }
    v[i - 1] = v[0];
    *argc = n - (i - 1);
    *argv = v + (i - 1);
    return 0;
}

int unix_app_storage_open(struct unix_app_storage *st, struct app_devices *dev)
{
    int rc = 0;
    if ((st->block_path || st->kv_path) && (rc = unix_jobs_start(0)) == 0)
        st->jobs = true;
    if (rc == 0 && st->block_path) {
        rc = unix_block_file_open(st->block_path, false, 0, &st->block);
        if (rc < 0)
            log_error(&main_log, "--block %s: %s", st->block_path, lwt_strerror(rc));
    }
    if (rc == 0 && st->kv_path) {
        rc = unix_block_file_open(st->kv_path, true, 0, &st->kv_dev);
        void *kv = NULL;
        if (rc == 0)
            rc = sched_run(kv_disk_open(st->kv_dev, NULL), &kv);
        if (rc < 0)
            log_error(&main_log, "--kv-disk %s: %s", st->kv_path, lwt_strerror(rc));
        st->kv = kv;
    }
    if (rc < 0) {
        unix_app_storage_close(st);
        return rc;
    }
    dev->block = st->block;
    if (st->kv)
        dev->kv = st->kv;
    return 0;
}

void unix_app_storage_close(struct unix_app_storage *st)
{
    kv_disk_free(st->kv);
    unix_block_file_close(st->kv_dev);
    unix_block_file_close(st->block);
    st->kv = NULL;
    st->kv_dev = st->block = NULL;
    if (st->jobs)
        unix_jobs_stop();
    st->jobs = false;
}
