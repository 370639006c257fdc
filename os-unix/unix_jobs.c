/* The job pool (unix_jobs.h).
 *
 * Submission: a mutex + condvar queue, doubly linked so that a cancelled job
 * can be taken out of it in O(1). Completion: workers push the finished job
 * onto a wait-free queue (liburcu's cds_wfcq) and bump an eventfd; the loop
 * watches the eventfd through the engine, drains the queue and settles the
 * promises with the *_later wakeups (an event source only enqueues).
 *
 * OWNERSHIP OF A JOB. One malloc'd struct job per submission, freed exactly
 * once, on the loop thread, when both of its sides are done:
 *
 *  - the worker side is done when the job is known never to touch a worker
 *    again: its completion has been dequeued on the loop, or it was taken out
 *    of the submission queue before a worker took it (on cancel or stop).
 *    Between being taken by a worker and being dequeued on the loop, the job
 *    belongs to the worker and then to the completion queue; the loop does
 *    not free it, whatever happens to the promise.
 *  - the promise side is done when the hook attached to the promise has run,
 *    which happens exactly once, whoever settles the promise (the loop after
 *    the job completed, or the caller's cancel). The hook is embedded in the
 *    job, so the job must live until it has run.
 *
 * The resolver is a separate reference the job holds until it is consumed:
 * by the wakeup once the job completed, or by lwt_resolver_drop when the
 * promise was cancelled first (a wakeup on a cancelled promise is a no-op
 * that consumes it too). Cleanup runs at the free, so it runs exactly once in
 * every case, and after the worker is done with arg.
 *
 * Fields are split by who may touch them: `state` and the queue links under
 * pool.lock; `cancelled` is atomic (written on the loop, read by workers);
 * value/err are written by the worker before the completion is enqueued and
 * read on the loop after it is dequeued (the queue orders them); everything
 * else belongs to the loop thread.
 */
#include "unix_jobs.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <urcu/wfcqueue.h>

#include "log.h"
#include "scheduler.h"
#include "unix_engine.h"
#include "unix_platform.h"

#define JOBS_DEFAULT_THREADS 4
#define JOBS_MAX_THREADS     256

static struct log_source jobs_log = LOG_SOURCE("jobs");

enum job_state {
    JOB_QUEUED,  /* on the submission queue */
    JOB_TAKEN,   /* a worker has it, or its completion is on the way */
    JOB_REMOVED, /* taken out of the queue on the loop; no worker will see it */
};

struct job {
    struct cds_wfcq_node done_node; /* completion queue link */
    struct job *prev, *next;        /* submission queue, under pool.lock */
    enum job_state state;           /* under pool.lock */
    atomic_bool cancelled;          /* set on the loop; a worker then skips it */

    unix_job_fn run;
    void *arg;
    void (*cleanup)(void *arg);
    /* Internal jobs: runs on the loop just before the promise is fulfilled
     * with value (copy out of a bounce buffer, hand over a result). */
    void (*deliver)(void *arg, void *value);

    void *value; /* worker -> loop */
    int err;     /* worker -> loop */

    /* Loop thread only. */
    lwt_resolver_t *resolver; /* until consumed */
    struct lwt_hook hook;
    bool promise_done; /* the hook has run */
    bool worker_done;  /* no worker will touch the job again */
};

static struct {
    bool running; /* loop thread only */
    struct unix_engine *engine;
    struct unix_watch watch;
    int efd;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *head, *tail; /* submission queue, under lock */
    bool stopping;           /* under lock */

    pthread_t *threads;
    unsigned nthreads;

    /* Completions: many workers enqueue; only the loop dequeues, so the
     * lock-free variant of the head needs no dequeue lock. */
    struct __cds_wfcq_head done_head;
    struct cds_wfcq_tail done_tail;

    size_t live; /* jobs allocated and not yet freed; loop thread only */
} pool = {.efd = -1};

/* ---- The loop side -------------------------------------------------- */

static void job_free_if_done(struct job *j)
{
    if (!j->promise_done || !j->worker_done)
        return;
    if (j->resolver) {
        /* The promise was cancelled: this only releases the reference. */
        lwt_resolver_drop(j->resolver);
        j->resolver = NULL;
    }
    if (j->cleanup)
        j->cleanup(j->arg);
    free(j);
    pool.live--;
}

static void queue_unlink(struct job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        pool.head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        pool.tail = j->prev;
    j->prev = j->next = NULL;
}

static void job_settled(struct lwt_hook *hook, lwt_t *settled)
{
    struct job *j = (struct job *)((char *)hook - offsetof(struct job, hook));
    (void)settled;
    j->promise_done = true;
    if (!j->worker_done) {
        /* We only settle after the worker side is done, so this is the
         * caller's cancel: a job still queued never runs; a running one is
         * left to finish and its completion is discarded. */
        atomic_store_explicit(&j->cancelled, true, memory_order_relaxed);
        pthread_mutex_lock(&pool.lock);
        if (j->state == JOB_QUEUED) {
            queue_unlink(j);
            j->state = JOB_REMOVED;
            j->worker_done = true;
        }
        pthread_mutex_unlock(&pool.lock);
    }
    job_free_if_done(j);
}

/* The worker side is done; settle the promise unless it was cancelled. */
static void job_complete(struct job *j)
{
    j->worker_done = true;
    if (j->resolver) {
        lwt_resolver_t *r = j->resolver;
        j->resolver = NULL;
        /* If the promise was cancelled and its hook is still queued, these
         * are no-ops that only consume the resolver. */
        if (j->err < 0) {
            lwt_wakeup_fail_later(r, j->err);
        } else if (lwt_state(lwt_resolver_promise(r)) == LWT_PENDING) {
            if (j->deliver)
                j->deliver(j->arg, j->value);
            lwt_wakeup_later(r, j->value);
        } else {
            lwt_resolver_drop(r);
        }
    }
    job_free_if_done(j);
}

static void drain_completions(void)
{
    struct cds_wfcq_node *node;
    while ((node = __cds_wfcq_dequeue_blocking(&pool.done_head, &pool.done_tail)))
        job_complete((struct job *)((char *)node - offsetof(struct job, done_node)));
}

static void on_wakeup(struct unix_watch *w, unsigned revents)
{
    (void)revents;
    /* Reset the counter first: a completion enqueued after this read comes
     * with a write that makes the descriptor readable again. */
    uint64_t n;
    while (read(w->fd, &n, sizeof n) < 0 && errno == EINTR)
        ;
    drain_completions();
}

/* ---- The worker side ------------------------------------------------ */

static void *worker_main(void *unused)
{
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&pool.lock);
        while (!pool.stopping && !pool.head)
            pthread_cond_wait(&pool.cond, &pool.lock);
        if (pool.stopping) {
            /* stop took the queued jobs already. */
            pthread_mutex_unlock(&pool.lock);
            return NULL;
        }
        struct job *j = pool.head;
        queue_unlink(j);
        j->state = JOB_TAKEN;
        pthread_mutex_unlock(&pool.lock);

        /* Cancelled between being taken and now: skip it. */
        if (atomic_load_explicit(&j->cancelled, memory_order_relaxed)) {
            j->value = NULL;
            j->err = -LWT_ECANCELED;
        } else {
            int err = 0;
            j->value = j->run(j->arg, &err);
            j->err = err > 0 ? -err : err;
        }
        /* From here on the job belongs to the loop. */
        cds_wfcq_enqueue(&pool.done_head, &pool.done_tail, &j->done_node);
        uint64_t one = 1;
        while (write(pool.efd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
}

/* ---- Start, stop, submit -------------------------------------------- */

static void join_workers(void)
{
    pthread_mutex_lock(&pool.lock);
    pool.stopping = true;
    pthread_cond_broadcast(&pool.cond);
    pthread_mutex_unlock(&pool.lock);
    for (unsigned i = 0; i < pool.nthreads; i++)
        pthread_join(pool.threads[i], NULL);
    free(pool.threads);
    pool.threads = NULL;
    pool.nthreads = 0;
}

static void release_resources(void)
{
    unix_watch_stop(pool.engine, &pool.watch);
    close(pool.efd);
    pool.efd = -1;
    pthread_cond_destroy(&pool.cond);
    pthread_mutex_destroy(&pool.lock);
    __cds_wfcq_init(&pool.done_head, &pool.done_tail);
    pool.engine = NULL;
}

int unix_jobs_start(unsigned threads)
{
    if (pool.running)
        return -LWT_EALREADY;
    if (threads == 0)
        threads = JOBS_DEFAULT_THREADS;
    if (threads > JOBS_MAX_THREADS)
        return -LWT_EINVAL;
    struct unix_engine *e = unix_platform_engine();
    if (!e) {
        log_error(&jobs_log, "unix_jobs_start: the platform is not running");
        return -LWT_EINVAL;
    }
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) {
        int err = -errno;
        log_error(&jobs_log, "eventfd: %s", strerror(-err));
        return err;
    }
    pool.engine = e;
    pool.efd = efd;
    pool.head = pool.tail = NULL;
    pool.stopping = false;
    pool.live = 0;
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.cond, NULL);
    __cds_wfcq_init(&pool.done_head, &pool.done_tail);
    pool.watch = (struct unix_watch){.fd = efd, .events = UNIX_READABLE, .cb = on_wakeup};
    int rc = unix_watch_start(e, &pool.watch);
    if (rc < 0) {
        log_error(&jobs_log, "cannot watch the wake-up descriptor: %s", lwt_strerror(rc));
        release_resources();
        return rc;
    }
    pool.threads = calloc(threads, sizeof *pool.threads);
    if (!pool.threads) {
        release_resources();
        return -LWT_ENOMEM;
    }
    /* Workers block every signal: SIGINT and SIGTERM belong to the loop. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (unsigned i = 0; i < threads; i++) {
        rc = -pthread_create(&pool.threads[i], NULL, worker_main, NULL);
        if (rc < 0)
            break;
        pool.nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc < 0) {
        log_error(&jobs_log, "pthread_create: %s", strerror(-rc));
        join_workers();
        release_resources();
        return rc;
    }
    pool.running = true;
    return 0;
}

void unix_jobs_stop(void)
{
    if (!pool.running)
        return;
    pool.running = false; /* submissions from here on are refused */

    /* Take the jobs no worker has started, then wait for the running ones. */
    pthread_mutex_lock(&pool.lock);
    struct job *queued = pool.head;
    for (struct job *j = queued; j; j = j->next)
        j->state = JOB_REMOVED;
    pool.head = pool.tail = NULL;
    pthread_mutex_unlock(&pool.lock);
    join_workers();

    while (queued) {
        struct job *j = queued;
        queued = j->next;
        j->prev = j->next = NULL;
        j->err = -LWT_ECANCELED;
        job_complete(j);
    }
    drain_completions();
    release_resources();

    /* Hooks of promises settled above may still be queued: run them, so that
     * no job outlives the pool (this may run callers' callbacks too). */
    while (pool.live && lwt_has_deferred())
        lwt_run_deferred(SCHED_BATCH_BUDGET);
    if (pool.live)
        log_error(&jobs_log, "%zu jobs still waiting for their promise after stop", pool.live);
}

size_t unix_jobs_in_flight(void)
{
    return pool.live;
}

static lwt_t *submit(unix_job_fn run, void *arg, void (*cleanup)(void *), void (*deliver)(void *, void *))
{
    int err = !pool.running ? -LWT_ESHUTDOWN : !run ? -LWT_EINVAL : 0;
    struct job *j = err ? NULL : calloc(1, sizeof *j);
    if (!j) {
        /* The pool took charge of arg: cleanup runs in every case. */
        if (cleanup)
            cleanup(arg);
        return lwt_fail(err ? err : -LWT_ENOMEM);
    }
    j->run = run;
    j->arg = arg;
    j->cleanup = cleanup;
    j->deliver = deliver;
    atomic_init(&j->cancelled, false);
    lwt_t *p = lwt_task(&j->resolver);
    lwt_hook_attach(p, &j->hook, job_settled);
    pool.live++;

    pthread_mutex_lock(&pool.lock);
    j->state = JOB_QUEUED;
    j->prev = pool.tail;
    if (pool.tail)
        pool.tail->next = j;
    else
        pool.head = j;
    pool.tail = j;
    pthread_cond_signal(&pool.cond);
    pthread_mutex_unlock(&pool.lock);
    return p;
}

lwt_t *unix_job_submit(unix_job_fn run, void *arg, void (*cleanup)(void *arg))
{
    return submit(run, arg, cleanup, NULL);
}

lwt_t *unix_job_submit_deliver(unix_job_fn run, void *arg, void (*deliver)(void *arg, void *value),
                               void (*cleanup)(void *arg))
{
    return submit(run, arg, cleanup, deliver);
}

bool unix_jobs_running(void)
{
    return pool.running;
}

/* ---- Ready-made jobs ------------------------------------------------ */

/* File jobs work on a private bounce buffer, so that the caller's buffer is
 * never touched after its promise has settled, even when a cancelled job is
 * still running: pread copies out on the loop just before fulfilling,
 * pwrite copies in at submission. */
struct file_job {
    int fd;
    off_t offset;
    size_t len;
    void *user_buf; /* pread: where the bytes go */
    unsigned char bounce[];
};

static struct file_job *file_job_new(int fd, size_t len, off_t offset)
{
    if (len > (size_t)INTPTR_MAX)
        return NULL;
    struct file_job *f = malloc(sizeof *f + len);
    if (f) {
        f->fd = fd;
        f->offset = offset;
        f->len = len;
        f->user_buf = NULL;
    }
    return f;
}

/* Moves f->len bytes between the bounce buffer and the file, going on after
 * short transfers; stops at end of file. The count moved, or an error if
 * nothing was. */
static void *file_transfer(struct file_job *f, int *err, bool write)
{
    size_t done = 0;
    while (done < f->len) {
        off_t at = f->offset + (off_t)done;
        ssize_t n = write ? pwrite(f->fd, f->bounce + done, f->len - done, at)
                          : pread(f->fd, f->bounce + done, f->len - done, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (done == 0)
                *err = -errno;
            break;
        }
        if (n == 0)
            break; /* end of file */
        done += (size_t)n;
    }
    return LWT_INT(done);
}

static void *pread_run(void *arg, int *err)
{
    return file_transfer(arg, err, false);
}

static void pread_deliver(void *arg, void *value)
{
    struct file_job *f = arg;
    memcpy(f->user_buf, f->bounce, (size_t)LWT_TO_INT(value));
}

lwt_t *unix_file_pread(int fd, void *buf, size_t len, off_t offset)
{
    struct file_job *f = file_job_new(fd, len, offset);
    if (!f)
        return lwt_fail(len > (size_t)INTPTR_MAX ? -LWT_EINVAL : -LWT_ENOMEM);
    f->user_buf = buf;
    return submit(pread_run, f, free, pread_deliver);
}

static void *pwrite_run(void *arg, int *err)
{
    return file_transfer(arg, err, true);
}

lwt_t *unix_file_pwrite(int fd, const void *buf, size_t len, off_t offset)
{
    struct file_job *f = file_job_new(fd, len, offset);
    if (!f)
        return lwt_fail(len > (size_t)INTPTR_MAX ? -LWT_EINVAL : -LWT_ENOMEM);
    if (len)
        memcpy(f->bounce, buf, len);
    return submit(pwrite_run, f, free, NULL);
}

static void *fsync_run(void *arg, int *err)
{
    int fd = (int)LWT_TO_INT(arg);
    int rc;
    while ((rc = fsync(fd)) < 0 && errno == EINTR)
        ;
    if (rc < 0)
        *err = -errno;
    return NULL;
}

lwt_t *unix_file_fsync(int fd)
{
    return submit(fsync_run, LWT_INT(fd), NULL, NULL);
}

/* Copies of the strings, so that a running lookup whose promise was
 * cancelled never reads the caller's memory. */
struct gai_job {
    char *host, *service;
    struct addrinfo hints;
    struct addrinfo *res; /* owned here until delivered */
};

static int gai_to_lwt_error(int rc)
{
    switch (rc) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return -LWT_ENOENT;
    case EAI_AGAIN:
        return -LWT_EAGAIN; /* no answer from the name server for now */
    case EAI_MEMORY:
        return -LWT_ENOMEM;
    case EAI_FAMILY:
        return -LWT_EOPNOTSUPP;
    case EAI_SERVICE:
    case EAI_SOCKTYPE:
    case EAI_BADFLAGS:
        return -LWT_EINVAL;
    case EAI_SYSTEM:
        return errno ? -errno : -LWT_EIO;
    default: /* EAI_FAIL and anything newer */
        return -LWT_EIO;
    }
}

static void *gai_run(void *arg, int *err)
{
    struct gai_job *g = arg;
    int rc = getaddrinfo(g->host, g->service, &g->hints, &g->res);
    if (rc != 0) {
        *err = gai_to_lwt_error(rc);
        g->res = NULL;
    }
    return g->res;
}

static void gai_deliver(void *arg, void *value)
{
    struct gai_job *g = arg;
    (void)value;
    g->res = NULL; /* now the caller's, to freeaddrinfo */
}

static void gai_cleanup(void *arg)
{
    struct gai_job *g = arg;
    if (g->res)
        freeaddrinfo(g->res);
    free(g->host);
    free(g->service);
    free(g);
}

lwt_t *unix_getaddrinfo(const char *host, const char *service, int family, int socktype)
{
    if (!host && !service)
        return lwt_fail(-LWT_EINVAL);
    struct gai_job *g = calloc(1, sizeof *g);
    if (!g)
        return lwt_fail(-LWT_ENOMEM);
    g->host = host ? strdup(host) : NULL;
    g->service = service ? strdup(service) : NULL;
    if ((host && !g->host) || (service && !g->service)) {
        gai_cleanup(g);
        return lwt_fail(-LWT_ENOMEM);
    }
    g->hints.ai_family = family;
    g->hints.ai_socktype = socktype;
    return submit(gai_run, g, gai_cleanup, gai_deliver);
}
