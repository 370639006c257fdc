/* What the rest of os-xen/ knows of the machine: start_info, the mapped
 * shared_info page, the vCPU's info, and the translations between virtual
 * addresses, pseudo-physical frames (pfn) and machine frames (mfn). The
 * image is mapped 1:1 from virtual address 0, so a pfn's virtual address is
 * pfn * 4096. Set up by xen_start (xen_start.c); private to os-xen/.
 */
#ifndef TESSERA_XEN_ARCH_H
#define TESSERA_XEN_ARCH_H

#include <stdint.h>

#include <xen/xen.h>

#define XEN_PAGE_SHIFT 12
#define XEN_PAGE_SIZE  4096ul

extern start_info_t *xen_start_info;   /* ro after boot */
extern shared_info_t *xen_shared_info; /* ro after boot */

static inline vcpu_info_t *xen_vcpu(void)
{
    return &xen_shared_info->vcpu_info[0];
}

static inline uint64_t xen_pfn_to_mfn(uint64_t pfn)
{
    return ((const unsigned long *)xen_start_info->mfn_list)[pfn];
}

static inline uint64_t xen_mfn_to_pfn(uint64_t mfn)
{
    return ((const unsigned long *)MACH2PHYS_VIRT_START)[mfn];
}

static inline void *xen_mfn_to_virt(uint64_t mfn)
{
    return (void *)(uintptr_t)(xen_mfn_to_pfn(mfn) << XEN_PAGE_SHIFT);
}

static inline uint64_t xen_virt_to_mfn(const void *p)
{
    return xen_pfn_to_mfn((uintptr_t)p >> XEN_PAGE_SHIFT);
}

/* Compiler and CPU ordering for memory shared with Xen or other domains. */
#define xen_barrier() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb()     __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb()     __atomic_thread_fence(__ATOMIC_RELEASE)

/* Writes what the guest has to say when it dies: straight to the console
 * ring, bypassing every buffer (xen_console.c). */
void xen_emergency_write(const char *text, unsigned long len);

/* Stops the domain with a SCHEDOP_shutdown reason (SHUTDOWN_poweroff,
 * _reboot, _crash), after flushing the console. Does not return. */
__attribute__((noreturn)) void xen_shutdown(unsigned reason);

/* Prints "fatal: <msg>", the backtrace from the caller and the early log,
 * then stops the domain with SHUTDOWN_crash (xen_trap.c). */
__attribute__((noreturn)) void xen_crash(const char *msg);

#endif
