/* www: a static web server. Serves the app's key/value store (its
 * compiled-in site, or a directory given with --kv-dir on Unix, or a disk
 * image given with --kv-disk) over HTTP/1.1
 * on port 8080 unless `--port N` says otherwise, and logs each request in
 * common log format on the console. Runs until the platform asks it to
 * stop (SIGINT/SIGTERM on Unix, xl shutdown on Xen), then stops
 * gracefully: requests in progress finish first.
 *
 * The same code runs on every target: the flows it serves on are kernel
 * sockets or Tessera's own TCP, whichever the target provides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "console.h"
#include "http.h"
#include "log.h"
#include "lwt_errno.h"
#include "scheduler.h"
#include "static_site.h"
#include "http_date.h"

static struct log_source www_log = LOG_SOURCE("www");

struct www {
    const struct app_devices *dev;
    struct static_site site;
    struct http_server *server;
};

/* host ident authuser [date] "request" status bytes */
static void log_request(void *ctx, const struct http_log_entry *e)
{
    struct www *w = ctx;
    char line[1024], date[HTTP_DATE_CLF_LEN + 1];
    http_date_clf(e->time, date);
    uint32_t a = e->peer.addr;
    int n;
    if (e->req)
        n = snprintf(line, sizeof line, "%u.%u.%u.%u - - [%s] \"%.*s %.*s HTTP/%d.%d\" %d %llu\n", a >> 24,
                     (a >> 16) & 255, (a >> 8) & 255, a & 255, date, (int)e->req->method_len, e->req->method_str,
                     (int)(e->req->target_len < 512 ? e->req->target_len : 512), e->req->target, e->req->version / 10,
                     e->req->version % 10, e->status, (unsigned long long)e->bytes);
    else
        n = snprintf(line, sizeof line, "%u.%u.%u.%u - - [%s] \"-\" %d %llu\n", a >> 24, (a >> 16) & 255,
                     (a >> 8) & 255, a & 255, date, e->status, (unsigned long long)e->bytes);
    if (n > 0)
        console_write(w->dev->console, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static lwt_t *stopped(void *v, void *ctx)
{
    (void)v;
    struct www *w = *(struct www **)ctx;
    log_info(&www_log, "stopped");
    free(w);
    return lwt_return(NULL);
}

static lwt_t *on_shutdown(void *v, void *ctx)
{
    (void)v;
    struct www *w = *(struct www **)ctx;
    log_info(&www_log, "stopping: finishing the requests in progress");
    return lwt_bind(http_server_stop(w->server), stopped, ctx, sizeof(struct www *));
}

lwt_t *app_main(const struct app_devices *dev, int argc, char **argv)
{
    uint16_t port = 8080;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc && app_parse_port(argv[i + 1], 0, &port) == 0) {
            i++;
        } else if (strcmp(argv[i], "--no-access-log") == 0) {
            quiet = true;
        } else {
            log_error(&www_log, "usage: www [--port N] [--no-access-log]; unexpected '%s'", argv[i]);
            return lwt_fail(-LWT_EINVAL);
        }
    }
    if (!dev->flows || !dev->kv) {
        log_error(&www_log, "needs TCP flows and a key/value store (the site): build it with "
                            "tessera_add_unikernel(... ASSETS dir), or give a directory");
        return lwt_fail(-LWT_ENODEV);
    }
    struct www *w = malloc(sizeof *w);
    if (!w)
        return lwt_fail(-LWT_ENOMEM);
    *w = (struct www){.dev = dev, .site = {.kv = dev->kv}};
    struct http_server_config cfg = {
        .port = port,
        .server_name = "Tessera",
        .clock = dev->clock,
        .log = quiet ? NULL : log_request,
        .log_ctx = w,
    };
    int rc = http_server_start(dev->flows, &cfg, static_site_handle, &w->site, &w->server);
    if (rc < 0) {
        log_error(&www_log, "cannot serve on port %u: %s", (unsigned)port, lwt_strerror(rc));
        free(w);
        return lwt_fail(rc);
    }
    log_info(&www_log, "serving %s on port %u (%s)", dev->kv->name, (unsigned)http_server_port(w->server),
             dev->flows->name);
    return lwt_bind(sched_shutdown_requested(), on_shutdown, LWT_CTX(w));
}
