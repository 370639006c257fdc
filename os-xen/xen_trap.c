/* Crashes: the exception table, and the report a dying guest leaves on its
 * console: what happened, the registers, a frame-pointer backtrace (the
 * Xen build keeps frame pointers), and the early log ring (sched/log.h),
 * which holds the last lines logged even if the console was never up.
 * Then SCHEDOP_shutdown with SHUTDOWN_crash. Addresses are the unstripped
 * image's (NAME.xen.debug next to NAME.xen: addr2line -e it).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <xen/sched.h>
#include <xen/xen.h>

#include "log.h"
#include "xen_arch.h"
#include "xen_hypercall.h"
#include "xen_trap.h"

/* What trap_common (boot.S) pushed, lowest address first. Xen keeps the
 * saved event mask in the upper bits of the cs slot. */
struct xen_trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

void xen_trap(struct xen_trap_frame *f);

extern char xen_trap_divide[], xen_trap_debug[], xen_trap_int3[], xen_trap_overflow[], xen_trap_bounds[],
    xen_trap_invalid_op[], xen_trap_no_device[], xen_trap_invalid_tss[], xen_trap_segment_not_present[],
    xen_trap_stack_segment[], xen_trap_general_protection[], xen_trap_page_fault[], xen_trap_fpu[],
    xen_trap_alignment[], xen_trap_simd[];
extern char _text[], _etext[], xen_boot_stack_top[];

static const char *const vector_names[] = {
    [0] = "divide error",         [1] = "debug",
    [3] = "breakpoint",           [4] = "overflow",
    [5] = "bound range",          [6] = "invalid opcode",
    [7] = "device not available", [10] = "invalid TSS",
    [11] = "segment not present", [12] = "stack fault",
    [13] = "general protection",  [14] = "page fault",
    [16] = "x87 floating point",  [17] = "alignment check",
    [19] = "SIMD floating point",
};

static void out(const char *text)
{
    xen_emergency_write(text, strlen(text));
}

static void outf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void outf(const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    out(line);
}

static void write_raw(const char *text, size_t len)
{
    xen_emergency_write(text, len);
}

static bool in_text(uint64_t addr)
{
    return addr >= (uint64_t)(uintptr_t)_text && addr < (uint64_t)(uintptr_t)_etext;
}

/* Walks saved frame pointers while they stay on our stack and point to
 * code in the image. A function that keeps no frame (a leaf, at -Os) hides
 * its caller from that walk; the word at the top of the stack is then the
 * return address, so when it points into code it is shown too, marked "?"
 * as a guess. */
static void backtrace_from(uint64_t rbp, uint64_t rip, uint64_t rsp)
{
    out("backtrace:\n");
    outf("  #0 %#llx\n", (unsigned long long)rip);
    uint64_t stack_top = (uint64_t)(uintptr_t)xen_boot_stack_top;
    uint64_t stack_bottom = stack_top - 65536;
    if (rsp >= stack_bottom && rsp + 8 <= stack_top && !(rsp & 7) && in_text(*(const uint64_t *)(uintptr_t)rsp))
        outf("  ?  %#llx\n", (unsigned long long)*(const uint64_t *)(uintptr_t)rsp);
    for (int depth = 1; depth < 32; depth++) {
        if (rbp < stack_bottom || rbp + 16 > stack_top || (rbp & 7))
            break;
        uint64_t ret = ((const uint64_t *)(uintptr_t)rbp)[1];
        if (!in_text(ret))
            break;
        outf("  #%d %#llx\n", depth, (unsigned long long)ret);
        rbp = ((const uint64_t *)(uintptr_t)rbp)[0];
    }
}

static void dump_log_ring(void)
{
    out("early log (last lines logged):\n");
    log_ring_dump(write_raw);
    out("-- end of report --\n");
}

static int crashing;

void xen_trap(struct xen_trap_frame *f)
{
    if (crashing++)
        HYPERVISOR_sched_op(SCHEDOP_shutdown, &(sched_shutdown_t){.reason = SHUTDOWN_crash});
    const char *name = f->vector < sizeof vector_names / sizeof vector_names[0] && vector_names[f->vector]
                           ? vector_names[f->vector]
                       : f->vector == 256 ? "failsafe callback (bad segment on return)"
                                          : "exception";
    outf("\nfatal: %s (vector %llu, error code %#llx) at rip %#llx\n", name, (unsigned long long)f->vector,
         (unsigned long long)f->error_code, (unsigned long long)f->rip);
    if (f->vector == 14)
        outf("page fault address: %#llx\n", (unsigned long long)xen_vcpu()->arch.cr2);
    outf("rax %016llx rbx %016llx rcx %016llx rdx %016llx\n", (unsigned long long)f->rax, (unsigned long long)f->rbx,
         (unsigned long long)f->rcx, (unsigned long long)f->rdx);
    outf("rsi %016llx rdi %016llx rbp %016llx rsp %016llx\n", (unsigned long long)f->rsi, (unsigned long long)f->rdi,
         (unsigned long long)f->rbp, (unsigned long long)f->rsp);
    outf("r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n", (unsigned long long)f->r8, (unsigned long long)f->r9,
         (unsigned long long)f->r10, (unsigned long long)f->r11);
    outf("r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n", (unsigned long long)f->r12, (unsigned long long)f->r13,
         (unsigned long long)f->r14, (unsigned long long)f->r15);
    outf("rip %016llx cs %04llx rflags %08llx ss %04llx\n", (unsigned long long)f->rip,
         (unsigned long long)(f->cs & 0xffff), (unsigned long long)f->rflags, (unsigned long long)(f->ss & 0xffff));
    backtrace_from(f->rbp, f->rip, f->rsp);
    dump_log_ring();
    xen_shutdown(SHUTDOWN_crash);
}

void xen_crash(const char *msg)
{
    if (crashing++)
        HYPERVISOR_sched_op(SCHEDOP_shutdown, &(sched_shutdown_t){.reason = SHUTDOWN_crash});
    outf("\nfatal: %s\n", msg);
    /* From our caller's frame: the saved rbp, and where it called us. */
    const uint64_t *frame = __builtin_frame_address(0);
    backtrace_from(frame[0], frame[1], 0);
    dump_log_ring();
    xen_shutdown(SHUTDOWN_crash);
}

#define TRAP(vec, fn)                                                                                                  \
    {                                                                                                                  \
        .vector = (vec), .flags = 0, .cs = FLAT_KERNEL_CS, .address = (unsigned long)(fn)                              \
    }

void xen_traps_init(void)
{
    /* Flags 0: kernel-only, events left as they are. int3 may come from
     * anywhere (ring 3 is our ring). */
    static const struct trap_info table[] = {
        TRAP(0, xen_trap_divide),
        TRAP(1, xen_trap_debug),
        {.vector = 3, .flags = 3, .cs = FLAT_KERNEL_CS, .address = (unsigned long)xen_trap_int3},
        TRAP(4, xen_trap_overflow),
        TRAP(5, xen_trap_bounds),
        TRAP(6, xen_trap_invalid_op),
        TRAP(7, xen_trap_no_device),
        TRAP(10, xen_trap_invalid_tss),
        TRAP(11, xen_trap_segment_not_present),
        TRAP(12, xen_trap_stack_segment),
        TRAP(13, xen_trap_general_protection),
        TRAP(14, xen_trap_page_fault),
        TRAP(16, xen_trap_fpu),
        TRAP(17, xen_trap_alignment),
        TRAP(19, xen_trap_simd),
        {0, 0, 0, 0},
    };
    if (HYPERVISOR_set_trap_table(table) < 0)
        xen_crash("cannot install the trap table");
}
