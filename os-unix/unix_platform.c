/* See unix_platform.h. */
#define _GNU_SOURCE /* accept4, pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "scheduler.h"
#include "unix_console.h"
#include "unix_jobs.h"
#include "unix_platform.h"

static struct log_source platform_log = LOG_SOURCE("unix");

static const int shutdown_signals[] = {SIGINT, SIGTERM};
#define NSIGNALS (sizeof shutdown_signals / sizeof shutdown_signals[0])

static struct {
    bool started;
    struct unix_engine engine;
    int sigpipe[2];
    struct unix_watch sigwatch;
    struct sigaction old[NSIGNALS];
    struct sigaction old_pipe;
} P = {.sigpipe = {-1, -1}};

/* The handler only reaches the write end, through this. */
static volatile sig_atomic_t signal_fd = -1;

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * SCHED_NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint64_t unix_clock_monotonic(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

uint64_t unix_clock_wall(void)
{
    return clock_ns(CLOCK_REALTIME);
}

struct unix_engine *unix_platform_engine(void)
{
    return P.started ? &P.engine : NULL;
}

/* ---- The scheduler's hooks ---------------------------------------------- */

static uint64_t plat_now(void *ctx)
{
    (void)ctx;
    return unix_clock_monotonic();
}

static int plat_block(void *ctx, uint64_t deadline)
{
    (void)ctx;
    int64_t timeout = -1;
    if (deadline != SCHED_FOREVER) {
        uint64_t now = unix_clock_monotonic();
        uint64_t left = deadline > now ? deadline - now : 0;
        timeout = left > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)left;
    }
    return unix_engine_poll(&P.engine, timeout);
}

static const struct sched_platform sched_hooks = {.now = plat_now, .block = plat_block, .ctx = NULL};

/* ---- Promise library and log output ------------------------------------- */

static void write_all(int fd, const char *text, size_t len)
{
    while (len) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        text += n;
        len -= (size_t)n;
    }
}

static void lwt_write(const char *text, size_t len)
{
    /* After what the console holds, so that lines stay in order. */
    unix_console_flush();
    write_all(STDERR_FILENO, text, len);
}

static void lwt_panic(const char *msg)
{
    unix_console_flush();
    write_all(STDERR_FILENO, "panic: ", 7);
    write_all(STDERR_FILENO, msg, strlen(msg));
    write_all(STDERR_FILENO, "\n", 1);
    abort();
}

static const struct lwt_platform lwt_hooks = {.write = lwt_write, .panic = lwt_panic};

static void log_write(const char *text, size_t len)
{
    unix_console_write(UNIX_CONSOLE_STDERR, text, len);
}

/* ---- Signals ------------------------------------------------------------ */

static void on_signal(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;
    /* Non-blocking: if the pipe is full, a request is already queued. */
    if (signal_fd >= 0 && write(signal_fd, &b, 1) < 0) {
    }
    errno = saved;
}

static void on_signal_pipe(struct unix_watch *w, unsigned revents)
{
    (void)revents;
    unsigned char buf[64];
    ssize_t n;
    while ((n = read(w->fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++) {
            log_info(&platform_log, "signal %d: shutting down", buf[i]);
            sched_request_shutdown(buf[i]);
        }
}

static int make_pipe(int fds[2])
{
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
        return -errno;
    return 0;
}

static int install_signals(void)
{
    int rc = make_pipe(P.sigpipe);
    if (rc < 0)
        return rc;
    P.sigwatch.fd = P.sigpipe[0];
    P.sigwatch.events = UNIX_READABLE;
    P.sigwatch.cb = on_signal_pipe;
    rc = unix_watch_start(&P.engine, &P.sigwatch);
    if (rc < 0)
        return rc;
    signal_fd = P.sigpipe[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < NSIGNALS; i++)
        sigaction(shutdown_signals[i], &sa, &P.old[i]);
    /* A peer that goes away must give EPIPE, not kill the process. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &P.old_pipe);
    return 0;
}

static void remove_signals(void)
{
    if (signal_fd >= 0) {
        for (size_t i = 0; i < NSIGNALS; i++)
            sigaction(shutdown_signals[i], &P.old[i], NULL);
        sigaction(SIGPIPE, &P.old_pipe, NULL);
        signal_fd = -1;
    }
    unix_watch_stop(&P.engine, &P.sigwatch);
    for (int i = 0; i < 2; i++) {
        if (P.sigpipe[i] >= 0)
            close(P.sigpipe[i]);
        P.sigpipe[i] = -1;
    }
}

/* ---- Start and stop ----------------------------------------------------- */

int unix_platform_start(const char *engine_name)
{
    if (P.started)
        return -LWT_EBUSY;
    lwt_set_platform(&lwt_hooks);
    log_set_output(log_write);
    int rc = unix_engine_open(&P.engine, engine_name);
    if (rc < 0)
        return rc;
    rc = install_signals();
    if (rc < 0) {
        log_error(&platform_log, "cannot watch for signals: %s", lwt_strerror(rc));
        remove_signals();
        unix_engine_close(&P.engine);
        return rc;
    }
    P.started = true;
    unix_console_start(&P.engine);
    sched_init(&sched_hooks);
    return 0;
}

void unix_platform_stop(void)
{
    if (!P.started)
        return;
    /* The job pool watches the engine: it goes first (a no-op if it was
     * never started). */
    unix_jobs_stop();
    /* Whatever waits on timers is released while the engine still runs, so
     * that their hooks can stop their watches. */
    sched_destroy();
    unix_console_stop();
    remove_signals();
    unix_engine_close(&P.engine);
    P.started = false;
}
