/* constamp: timestamps a Xen guest's console as it arrives, in dom0.
 *
 * Usage: constamp LOG OUTDIR READY_ERE [MAX_SECONDS]
 *
 * LOG is the file xenconsoled writes the guest's PV console to (it may not
 * exist yet: it appears when the domain is created). constamp watches LOG's
 * directory with inotify and reads every write as it lands, so a stamp is
 * the wall-clock time (CLOCK_REALTIME, microseconds, the clock of bash's
 * $EPOCHREALTIME) at which xenconsoled's write reached the file, give or
 * take one wake-up of this process; xenconsoled's own --timestamp has whole
 * seconds only. It writes into OUTDIR:
 *
 *   watching        created once the watch is set up (wait for it before
 *                   starting the guest)
 *   stamps          "first_output EPOCH", "first_line EPOCH" and
 *                   "ready EPOCH" (the first line matching READY_ERE, a POSIX
 *                   extended regular expression; "" matches nothing), each
 *                   once, as they happen
 *   console.timed   every line, carriage returns dropped, as "EPOCH<TAB>line"
 *
 * It stops on SIGTERM or SIGINT (after reading what is left) or after
 * MAX_SECONDS (default 3600). Exit status 0, 2 for a usage or set-up error.
 *
 * Part of the Xen test harness (tests/xen): a static binary built on the
 * host by dom0-assets.sh and run in dom0, where there is no compiler and
 * busybox has no inotify tool.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 65536

static FILE *stamps, *timed;
static bool have_ready_re, seen_output, seen_line, seen_ready;
static regex_t ready_re;
static char line[LINE_MAX_BYTES + 1];
static size_t line_len;
static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

static void now_str(char *buf, size_t size)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, size, "%lld.%06ld", (long long)ts.tv_sec, ts.tv_nsec / 1000);
}

static void stamp(const char *name, const char *when)
{
    fprintf(stamps, "%s %s\n", name, when);
    fflush(stamps);
}

static void end_line(const char *when)
{
    line[line_len] = '\0';
    fprintf(timed, "%s\t%s\n", when, line);
    if (!seen_line) {
        seen_line = true;
        stamp("first_line", when);
    }
    if (have_ready_re && !seen_ready && regexec(&ready_re, line, 0, NULL, 0) == 0) {
        seen_ready = true;
        stamp("ready", when);
    }
    line_len = 0;
}

/* Reads whatever LOG has gained since the last call. */
static void drain(int fd)
{
    char buf[16384];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        char when[32];
        now_str(when, sizeof when);
        if (!seen_output) {
            seen_output = true;
            stamp("first_output", when);
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n')
                end_line(when);
            else if (buf[i] != '\r') {
                if (line_len == LINE_MAX_BYTES)
                    end_line(when);
                line[line_len++] = buf[i];
            }
        }
    }
    fflush(timed);
}

static FILE *open_out(const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "a");
    if (!f) {
        fprintf(stderr, "constamp: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    return f;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: constamp LOG OUTDIR READY_ERE [MAX_SECONDS]\n");
        return 2;
    }
    const char *log = argv[1], *outdir = argv[2], *ere = argv[3];
    long max_s = argc == 5 ? strtol(argv[4], NULL, 10) : 3600;
    if (max_s <= 0)
        max_s = 3600;

    if (ere[0] != '\0') {
        if (regcomp(&ready_re, ere, REG_EXTENDED | REG_NOSUB) != 0) {
            fprintf(stderr, "constamp: bad regular expression '%s'\n", ere);
            return 2;
        }
        have_ready_re = true;
    }
    stamps = open_out(outdir, "stamps");
    timed = open_out(outdir, "console.timed");

    /* SIGTERM and SIGINT are only taken inside ppoll: no lost wake-up. */
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    struct sigaction sa = {0};
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", log);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof dir, ".");

    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (in < 0 || inotify_add_watch(in, dir, IN_CREATE | IN_MODIFY | IN_MOVED_TO) < 0) {
        fprintf(stderr, "constamp: inotify on %s: %s\n", dir, strerror(errno));
        return 2;
    }
    FILE *ready = open_out(outdir, "watching");
    fclose(ready);

    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int fd = -1;
    for (;;) {
        if (fd < 0)
            fd = open(log, O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            drain(fd);
        if (stop)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= max_s)
            break;
        /* Woken by any write in the directory; the timeout only covers an
         * event queue overflow. */
        struct pollfd p = {.fd = in, .events = POLLIN};
        struct timespec tick = {0, 100 * 1000 * 1000};
        if (ppoll(&p, 1, &tick, &waitmask) > 0) {
            char ev[4096];
            while (read(in, ev, sizeof ev) > 0)
                ;
        }
    }
    if (line_len > 0) {
        char when[32];
        now_str(when, sizeof when);
        end_line(when);
    }
    fflush(timed);
    return 0;
}
