/* Engine selection; see unix_engine.h. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lwt_errno.h"
#include "unix_engine.h"

static struct log_source engine_log = LOG_SOURCE("engine");

static const struct unix_engine_ops *const engines[] = {&unix_engine_libev, &unix_engine_select};

int unix_engine_open(struct unix_engine *e, const char *name)
{
    e->ops = NULL;
    e->state = NULL;
    if (!name || !*name)
        name = getenv("TESSERA_ENGINE");
    if (!name || !*name)
        name = "libev";
    for (size_t i = 0; i < sizeof engines / sizeof engines[0]; i++) {
        if (strcmp(engines[i]->name, name) != 0)
            continue;
        e->ops = engines[i];
        int rc = e->ops->init(e);
        if (rc < 0) {
            log_error(&engine_log, "cannot start the %s engine: %s", name, lwt_strerror(rc));
            e->ops = NULL;
        }
        return rc;
    }
    log_error(&engine_log, "unknown engine \"%s\" (known: libev, select)", name);
    return -LWT_EINVAL;
}

void unix_engine_close(struct unix_engine *e)
{
    if (e->ops)
        e->ops->destroy(e);
    e->ops = NULL;
    e->state = NULL;
}
