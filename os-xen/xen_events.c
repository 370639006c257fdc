/* See xen_events.h.
 *
 * Events are delivered by Xen setting bits in shared_info's
 * evtchn_pending words, the word's bit in the vCPU's evtchn_pending_sel,
 * and evtchn_upcall_pending. We keep evtchn_upcall_mask set (events off)
 * except inside SCHEDOP_block, which clears it atomically with blocking;
 * the upcall (boot.S) then only returns. So the scan below never races
 * with an upcall of our own; it races only with Xen setting bits, which
 * the atomic exchanges and bit clears take care of.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <xen/callback.h>
#include <xen/event_channel.h>

#include "lwt.h"
#include "xen_arch.h"
#include "xen_events.h"
#include "xen_hypercall.h"

#define NR_PORTS 1024 /* 2-level ABI on x86_64: 4096 possible, we need few */
#define BITS     (8 * sizeof(unsigned long))

static struct {
    xen_event_handler fn;
    void *ctx;
} handlers[NR_PORTS];

extern char xen_event_upcall[], xen_failsafe_callback[];

void xen_event_mask(uint32_t port)
{
    __atomic_fetch_or(&xen_shared_info->evtchn_mask[port / BITS], 1ul << (port % BITS), __ATOMIC_SEQ_CST);
}

void xen_event_unmask(uint32_t port)
{
    /* EVTCHNOP_unmask also re-raises an event that arrived while masked. */
    evtchn_unmask_t op = {.port = port};
    HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &op);
}

void xen_event_notify(uint32_t port)
{
    evtchn_send_t op = {.port = port};
    HYPERVISOR_event_channel_op(EVTCHNOP_send, &op);
}

void xen_events_init(void)
{
    for (unsigned i = 0; i < sizeof xen_shared_info->evtchn_mask / sizeof xen_shared_info->evtchn_mask[0]; i++)
        xen_shared_info->evtchn_mask[i] = ~0ul;
    xen_vcpu()->evtchn_upcall_mask = 1;
    struct callback_register event = {.type = CALLBACKTYPE_event, .address = (unsigned long)xen_event_upcall};
    struct callback_register failsafe = {.type = CALLBACKTYPE_failsafe,
                                         .address = (unsigned long)xen_failsafe_callback};
    if (HYPERVISOR_callback_op(CALLBACKOP_register, &event) < 0 ||
        HYPERVISOR_callback_op(CALLBACKOP_register, &failsafe) < 0)
        xen_crash("cannot register the event callbacks");
}

int xen_event_attach(uint32_t port, xen_event_handler fn, void *ctx)
{
    if (port >= NR_PORTS)
        return -LWT_ENOSPC;
    handlers[port].fn = fn;
    handlers[port].ctx = ctx;
    xen_event_unmask(port);
    return 0;
}

static int attach_new(long rc, uint32_t port, xen_event_handler fn, void *ctx)
{
    if (rc < 0)
        return -LWT_EIO;
    int arc = xen_event_attach(port, fn, ctx);
    if (arc < 0) {
        evtchn_close_t close = {.port = port};
        HYPERVISOR_event_channel_op(EVTCHNOP_close, &close);
        return arc;
    }
    return (int)port;
}

int xen_event_bind_virq(uint32_t virq, xen_event_handler fn, void *ctx)
{
    evtchn_bind_virq_t op = {.virq = virq, .vcpu = 0};
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &op);
    return attach_new(rc, op.port, fn, ctx);
}

int xen_event_bind_interdomain(uint16_t remote_dom, uint32_t remote_port, xen_event_handler fn, void *ctx)
{
    evtchn_bind_interdomain_t op = {.remote_dom = remote_dom, .remote_port = remote_port};
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &op);
    return attach_new(rc, op.local_port, fn, ctx);
}

int xen_event_alloc_unbound(uint16_t remote_dom, xen_event_handler fn, void *ctx)
{
    evtchn_alloc_unbound_t op = {.dom = DOMID_SELF, .remote_dom = remote_dom};
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &op);
    return attach_new(rc, op.port, fn, ctx);
}

void xen_event_close(uint32_t port)
{
    if (port >= NR_PORTS)
        return;
    xen_event_mask(port);
    handlers[port].fn = NULL;
    evtchn_close_t op = {.port = port};
    HYPERVISOR_event_channel_op(EVTCHNOP_close, &op);
}

bool xen_events_pending(void)
{
    return __atomic_load_n(&xen_vcpu()->evtchn_upcall_pending, __ATOMIC_ACQUIRE) != 0;
}

unsigned xen_events_dispatch(void)
{
    vcpu_info_t *v = xen_vcpu();
    shared_info_t *s = xen_shared_info;
    unsigned ran = 0;
    __atomic_store_n(&v->evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
    unsigned long sel = __atomic_exchange_n(&v->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    while (sel) {
        unsigned word = (unsigned)__builtin_ctzl(sel);
        sel &= sel - 1;
        unsigned long ready;
        while ((ready = __atomic_load_n(&s->evtchn_pending[word], __ATOMIC_ACQUIRE) & ~s->evtchn_mask[word])) {
            unsigned bit = (unsigned)__builtin_ctzl(ready);
            uint32_t port = word * BITS + bit;
            __atomic_fetch_and(&s->evtchn_pending[word], ~(1ul << bit), __ATOMIC_SEQ_CST);
            if (port < NR_PORTS && handlers[port].fn) {
                handlers[port].fn(port, handlers[port].ctx);
                ran++;
            }
        }
    }
    return ran;
}
