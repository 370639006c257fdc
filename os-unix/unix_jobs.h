/* The job pool: blocking calls (file I/O, name lookup) run on a few worker
 * threads; completions come back to the loop through a wait-free queue
 * (liburcu's cds_wfcq) and one wake-up descriptor watched by the engine, and
 * settle the caller's promise on the loop thread.
 *
 * Cancelling a job's promise is safe whether the job has started or not: a
 * job not yet started is skipped, one running finishes and its result is
 * discarded (and its cleanup runs). The pool owns each job from submission
 * until its completion has been handled on the loop.
 */
#ifndef TESSERA_UNIX_JOBS_H
#define TESSERA_UNIX_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lwt.h"

/* Starts `threads` workers (0: a default of 4); needs the platform running.
 * 0 or a negative LWT_E* code. */
int unix_jobs_start(unsigned threads);
/* Cancels queued jobs, waits for running ones, joins the workers. */
void unix_jobs_stop(void);

/* A job: `run` executes on a worker and returns a value (or a negative error
 * via *err); `cleanup`, if any, runs on the loop after the promise is
 * settled or the job abandoned, to free what arg owns. */
typedef void *(*unix_job_fn)(void *arg, int *err);
lwt_t *unix_job_submit(unix_job_fn run, void *arg, void (*cleanup)(void *arg));
/* unix_job_submit, and deliver(arg, value) runs on the loop just before
 * the promise is fulfilled with value, never once it was cancelled: where
 * a job that worked on a buffer of its own copies its result out to the
 * caller's, which is then never touched after the promise has settled. */
lwt_t *unix_job_submit_deliver(unix_job_fn run, void *arg, void (*deliver)(void *arg, void *value),
                               void (*cleanup)(void *arg));

/* Whether the pool is running (submissions are taken): devices that can
 * also work on the loop thread use this to choose. */
bool unix_jobs_running(void);

/* Ready-made jobs. Buffers and strings are borrowed until settled. */
lwt_t *unix_file_pread(int fd, void *buf, size_t len, off_t offset); /* bytes */
lwt_t *unix_file_pwrite(int fd, const void *buf, size_t len, off_t offset);
lwt_t *unix_file_fsync(int fd);
/* Fulfilled with a struct addrinfo * list the caller frees with
 * freeaddrinfo; rejected with -LWT_ENOENT when the name does not resolve. */
lwt_t *unix_getaddrinfo(const char *host, const char *service, int family, int socktype);

/* Jobs submitted and not yet handled on the loop. */
size_t unix_jobs_in_flight(void);

#endif
