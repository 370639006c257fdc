/* See xen_store.h. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwt.h"
#include "xen_arch.h"
#include "xen_events.h"
#include "xen_store.h"
#include "xenstore.h"

static struct {
    struct xenstore xs;
    uint32_t port;
    bool up;
} S;

static void notify_xenstored(void *ctx)
{
    (void)ctx;
    xen_event_notify(S.port);
}

static void on_store_event(uint32_t port, void *ctx)
{
    (void)port, (void)ctx;
    if (S.up)
        xenstore_on_event(&S.xs);
}

int xen_store_start(void)
{
    if (S.up)
        return 0;
    if (!xen_start_info->store_mfn)
        return -LWT_ENODEV;
    S.port = xen_start_info->store_evtchn;
    int rc = xenstore_init(&S.xs, xen_mfn_to_virt(xen_start_info->store_mfn), notify_xenstored, NULL);
    if (rc < 0)
        return rc;
    S.up = true;
    rc = xen_event_attach(S.port, on_store_event, NULL);
    if (rc < 0) {
        xen_store_stop();
        return rc;
    }
    return 0;
}

void xen_store_stop(void)
{
    if (!S.up)
        return;
    xen_event_mask(S.port);
    S.up = false;
    xenstore_teardown(&S.xs);
}

struct xenstore *xen_store(void)
{
    return S.up ? &S.xs : NULL;
}
