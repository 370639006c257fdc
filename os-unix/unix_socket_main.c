/* main() for apps on the unix-socket target (the default): TCP flows over
 * the kernel's sockets, no privileges needed. The app gets the console,
 * the wall clock, flows (os-unix/unix_flow_socket.h) and, when it has
 * files, a key/value store (unix_app_kv.h); no net_stack.
 *
 *     NAME [--engine E] [--log SPEC] [--listen-addr A.B.C.D] [--kv-dir PATH]
 *          [--] [app args...]
 *
 * --listen-addr is where the app's listeners bind: 127.0.0.1 unless given
 * (0.0.0.0 serves every interface). Options are read up to the first word
 * that is not one of ours (or `--`); that word and the rest go to the app,
 * as in unix_net_main.c. Exit status: 0 when the app's main promise is
 * fulfilled, 1 when it is rejected (reported with its bind-site chain in
 * debug builds, by sched_run_main) or a device cannot be set up, 2 for bad
 * options (ours, or the app's: a main promise rejected with -LWT_EINVAL at
 * once). Linked into each app's executable for this target by
 * tessera_add_unikernel (apps/CMakeLists.txt).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "log.h"
#include "scheduler.h"
#include "unix_app_kv.h"
#include "unix_console.h"
#include "unix_flow_socket.h"
#include "unix_platform.h"
#include "unix_wallclock.h"

#define EXIT_USAGE 2

static struct log_source main_log = LOG_SOURCE("main");

struct options {
    const char *engine, *log_spec, *kv_dir;
    struct unix_flow_socket_config flows;
    int app_argc; /* the app's words, argv[0] included */
    char **app_argv;
};

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--engine libev|select] [--log SPEC] [--listen-addr A.B.C.D]\n"
            "       [--kv-dir PATH] [--] [app args...]\n",
            prog);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    const char *prog = argv[0];
    o->flows = (struct unix_flow_socket_config){.listen_addr = UNIX_FLOW_LOOPBACK};
    int i = 1;
    for (; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            usage(stdout, prog);
            return -1;
        }
        bool ours = strcmp(opt, "--engine") == 0 || strcmp(opt, "--log") == 0 || strcmp(opt, "--listen-addr") == 0 ||
                    strcmp(opt, "--kv-dir") == 0;
        if (!ours)
            break; /* the app's */
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value\n", prog, opt);
            goto bad;
        }
        const char *val = argv[++i];
        if (strcmp(opt, "--engine") == 0) {
            o->engine = val;
        } else if (strcmp(opt, "--log") == 0) {
            o->log_spec = val;
        } else if (strcmp(opt, "--kv-dir") == 0) {
            o->kv_dir = val;
        } else {
            struct in_addr a;
            if (inet_pton(AF_INET, val, &a) != 1) {
                fprintf(stderr, "%s: --listen-addr '%s': expected A.B.C.D, such as 127.0.0.1 or 0.0.0.0\n", prog, val);
                goto bad;
            }
            o->flows.listen_addr = ntohl(a.s_addr);
        }
    }
    /* The app sees its own words behind the program name. */
    argv[i - 1] = (char *)prog;
    o->app_argc = argc - (i - 1);
    o->app_argv = argv + (i - 1);
    return 0;
bad:
    usage(stderr, prog);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (o.log_spec && log_configure(o.log_spec) < 0) {
        fprintf(stderr,
                "%s: --log '%s': expected a level or name=level list, such as info "
                "or flow=debug\n",
                argv[0], o.log_spec);
        return EXIT_USAGE;
    }
    rc = unix_platform_start(o.engine);
    if (rc < 0) {
        fprintf(stderr, "%s: cannot start the platform: %s\n", argv[0], lwt_strerror(rc));
        return rc == -LWT_EINVAL ? EXIT_USAGE : 1;
    }

    int status = 1;
    struct flow_stack *flows = NULL;
    struct kv *kv = NULL;
    rc = unix_flow_socket_new(&o.flows, &flows);
    if (rc < 0) {
        log_error(&main_log, "cannot create the flows: %s", lwt_strerror(rc));
        goto out;
    }
    rc = unix_app_kv_open(o.kv_dir, &kv);
    if (rc < 0) {
        status = rc == -LWT_ENOMEM ? 1 : EXIT_USAGE;
        goto out;
    }

    struct app_devices dev = {
        .console = unix_console_stdout(),
        .clock = unix_wallclock(),
        .flows = flows,
        .kv = kv,
    };
    lwt_t *app = app_main(&dev, o.app_argc, o.app_argv);
    /* An app that refuses its arguments does so at once: a usage error. */
    bool refused = lwt_state(app) == LWT_REJECTED && lwt_error(app) == -LWT_EINVAL;
    rc = sched_run_main(app, NULL);
    if (rc < 0)
        log_error(&main_log, "stopped: %s", lwt_strerror(rc));
    status = refused ? EXIT_USAGE : rc < 0 ? 1 : 0;

out:
    /* One more turn: the last callbacks of closed flows run and let their
     * descriptors go while the engine is still there. */
    sched_run(sched_pause(), NULL);
    unix_app_kv_close(kv);
    unix_flow_socket_free(flows);
    unix_platform_stop();
    return status;
}
