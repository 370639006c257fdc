/* See xen_console.h. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <xen/io/console.h>
#include <xen/sched.h>

#include "console.h"
#include "lwt.h"
#include "xen_arch.h"
#include "xen_console.h"
#include "xen_events.h"
#include "xen_hypercall.h"
#include "xen_time.h"

#define BUFFER_BYTES (16 * 1024)
/* How long a flush waits without xenconsoled taking anything. */
#define STALL_NS 2000000000ull

static struct {
    struct xencons_interface *ring;
    uint32_t port;
    char buf[BUFFER_BYTES]; /* bytes not yet in the ring: [head, head + len) mod size */
    size_t head, len;
    struct console dev;
} C;

static struct xencons_interface *ring_of_start_info(void)
{
    if (!xen_start_info || !xen_start_info->console.domU.mfn)
        return NULL;
    return xen_mfn_to_virt(xen_start_info->console.domU.mfn);
}

/* Moves what fits from text into the ring; returns how much went. */
static size_t ring_put(struct xencons_interface *r, const char *text, size_t len)
{
    XENCONS_RING_IDX cons = __atomic_load_n(&r->out_cons, __ATOMIC_ACQUIRE);
    XENCONS_RING_IDX prod = r->out_prod;
    size_t n = 0;
    while (n < len && prod - cons < sizeof r->out)
        r->out[MASK_XENCONS_IDX(prod++, r->out)] = text[n++];
    xen_wmb();
    r->out_prod = prod;
    return n;
}

static bool ring_empty(const struct xencons_interface *r)
{
    return __atomic_load_n(&r->out_cons, __ATOMIC_ACQUIRE) == r->out_prod;
}

/* Pushes buffered bytes into the ring and tells the daemon. */
static void push(void)
{
    bool moved = false;
    while (C.len) {
        size_t chunk = C.len;
        if (C.head + chunk > BUFFER_BYTES)
            chunk = BUFFER_BYTES - C.head;
        size_t n = ring_put(C.ring, C.buf + C.head, chunk);
        if (!n)
            break;
        moved = true;
        C.head = (C.head + n) % BUFFER_BYTES;
        C.len -= n;
    }
    if (moved)
        xen_event_notify(C.port);
}

static void on_console_event(uint32_t port, void *ctx)
{
    (void)port, (void)ctx;
    push();
}

/* Waits for the daemon to take something: true if it did before the stall
 * limit. Events stay masked; SCHEDOP_poll watches the console's port. */
static bool wait_for_daemon(void)
{
    XENCONS_RING_IDX cons = C.ring->out_cons;
    uint64_t give_up = xen_time_monotonic() + STALL_NS;
    while (__atomic_load_n(&C.ring->out_cons, __ATOMIC_ACQUIRE) == cons) {
        uint64_t now = xen_time_monotonic();
        if (now >= give_up)
            return false;
        evtchn_port_t port = C.port;
        struct sched_poll poll = {.nr_ports = 1, .timeout = now + 10000000ull};
        set_xen_guest_handle(poll.ports, &port);
        HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
    }
    return true;
}

void xen_console_write(const char *text, size_t len)
{
    if (!C.ring)
        return;
    while (len) {
        if (C.len == BUFFER_BYTES) {
            /* Full: make room, as the console contract allows. */
            push();
            if (C.len == BUFFER_BYTES && !wait_for_daemon())
                return; /* the daemon is gone: drop rather than hang */
            push();
            continue;
        }
        size_t tail = (C.head + C.len) % BUFFER_BYTES;
        size_t room = tail >= C.head ? BUFFER_BYTES - tail : C.head - tail;
        if (room > BUFFER_BYTES - C.len)
            room = BUFFER_BYTES - C.len;
        size_t n = len < room ? len : room;
        memcpy(C.buf + tail, text, n);
        C.len += n;
        text += n;
        len -= n;
    }
    push();
}

void xen_console_flush(void)
{
    if (!C.ring)
        return;
    push();
    while (C.len || !ring_empty(C.ring)) {
        if (!wait_for_daemon())
            return;
        push();
    }
}

void xen_emergency_write(const char *text, unsigned long len)
{
    struct xencons_interface *r = C.ring ? C.ring : ring_of_start_info();
    if (!r)
        return;
    /* After whatever is still buffered, so the story stays in order. */
    if (C.ring)
        xen_console_flush();
    while (len) {
        size_t n = ring_put(r, text, len);
        text += n;
        len -= n;
        xen_event_notify(xen_start_info->console.domU.evtchn);
        if (len && !n && (!C.ring || !wait_for_daemon()))
            return; /* full, and nobody is reading it */
    }
}

static int dev_write(struct console *c, const char *text, size_t len)
{
    (void)c;
    xen_console_write(text, len);
    return 0;
}

static int dev_flush(struct console *c)
{
    (void)c;
    xen_console_flush();
    return 0;
}

static const struct console_ops console_ops = {.write = dev_write, .flush = dev_flush};

void xen_console_init(void)
{
    C.ring = ring_of_start_info();
    C.port = xen_start_info->console.domU.evtchn;
    C.dev.ops = &console_ops;
    if (C.ring)
        xen_event_attach(C.port, on_console_event, NULL);
}

struct console *xen_console(void)
{
    return &C.dev;
}
