/* Hypercalls (x86_64 PV): a call into the hypercall page that Xen filled
 * at build time, 32 bytes per hypercall, arguments in rdi, rsi, rdx, r10,
 * r8, the result in rax; Xen clobbers rcx and r11. Private to os-xen/.
 */
#ifndef TESSERA_XEN_HYPERCALL_H
#define TESSERA_XEN_HYPERCALL_H

#include <stdint.h>

#include <xen/xen.h>

extern char hypercall_page[4096];

#define XEN_HYPERCALL_ADDR(nr) (hypercall_page + (nr)*32)

static inline long xen_hypercall2(unsigned nr, unsigned long a1, unsigned long a2)
{
    long ret;
    register unsigned long r1 __asm__("rdi") = a1;
    register unsigned long r2 __asm__("rsi") = a2;
    __asm__ volatile("call *%[addr]"
                     : "=a"(ret), "+r"(r1), "+r"(r2)
                     : [addr] "r"(XEN_HYPERCALL_ADDR(nr))
                     : "memory", "rcx", "r11", "rdx", "r10", "r8", "r9");
    return ret;
}

static inline long xen_hypercall3(unsigned nr, unsigned long a1, unsigned long a2, unsigned long a3)
{
    long ret;
    register unsigned long r1 __asm__("rdi") = a1;
    register unsigned long r2 __asm__("rsi") = a2;
    register unsigned long r3 __asm__("rdx") = a3;
    __asm__ volatile("call *%[addr]"
                     : "=a"(ret), "+r"(r1), "+r"(r2), "+r"(r3)
                     : [addr] "r"(XEN_HYPERCALL_ADDR(nr))
                     : "memory", "rcx", "r11", "r10", "r8", "r9");
    return ret;
}

static inline long xen_hypercall4(unsigned nr, unsigned long a1, unsigned long a2, unsigned long a3, unsigned long a4)
{
    long ret;
    register unsigned long r1 __asm__("rdi") = a1;
    register unsigned long r2 __asm__("rsi") = a2;
    register unsigned long r3 __asm__("rdx") = a3;
    register unsigned long r4 __asm__("r10") = a4;
    __asm__ volatile("call *%[addr]"
                     : "=a"(ret), "+r"(r1), "+r"(r2), "+r"(r3), "+r"(r4)
                     : [addr] "r"(XEN_HYPERCALL_ADDR(nr))
                     : "memory", "rcx", "r11", "r8", "r9");
    return ret;
}

static inline long xen_hypercall1(unsigned nr, unsigned long a1)
{
    return xen_hypercall2(nr, a1, 0);
}

static inline long HYPERVISOR_sched_op(int cmd, void *arg)
{
    return xen_hypercall2(__HYPERVISOR_sched_op, (unsigned long)cmd, (unsigned long)arg);
}

static inline long HYPERVISOR_event_channel_op(int cmd, void *arg)
{
    return xen_hypercall2(__HYPERVISOR_event_channel_op, (unsigned long)cmd, (unsigned long)arg);
}

static inline long HYPERVISOR_set_timer_op(uint64_t deadline)
{
    return xen_hypercall1(__HYPERVISOR_set_timer_op, deadline);
}

static inline long HYPERVISOR_update_va_mapping(unsigned long va, uint64_t pte, unsigned long flags)
{
    return xen_hypercall3(__HYPERVISOR_update_va_mapping, va, pte, flags);
}

static inline long HYPERVISOR_mmu_update(mmu_update_t *req, unsigned count, unsigned *done, domid_t dom)
{
    return xen_hypercall4(__HYPERVISOR_mmu_update, (unsigned long)req, count, (unsigned long)done, dom);
}

static inline long HYPERVISOR_set_trap_table(const void *table)
{
    return xen_hypercall1(__HYPERVISOR_set_trap_table, (unsigned long)table);
}

static inline long HYPERVISOR_callback_op(int cmd, const void *arg)
{
    return xen_hypercall2(__HYPERVISOR_callback_op, (unsigned long)cmd, (unsigned long)arg);
}

static inline long HYPERVISOR_vcpu_op(int cmd, unsigned vcpu, void *arg)
{
    return xen_hypercall3(__HYPERVISOR_vcpu_op, (unsigned long)cmd, vcpu, (unsigned long)arg);
}

static inline long HYPERVISOR_grant_table_op(unsigned cmd, void *arg, unsigned count)
{
    return xen_hypercall3(__HYPERVISOR_grant_table_op, cmd, (unsigned long)arg, count);
}

static inline long HYPERVISOR_memory_op(unsigned cmd, void *arg)
{
    return xen_hypercall2(__HYPERVISOR_memory_op, cmd, (unsigned long)arg);
}

#endif
