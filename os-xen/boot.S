/* The image's entry and the few places where Xen enters it: the ELF notes
 * the domain builder reads, _start, the hypercall page, the event upcall,
 * the failsafe callback and the exception stubs. Everything else is C. */
#include <xen/elfnote.h>
#include <xen/xen.h>

#define ELFNOTE(type, desc)                                                     \
    .pushsection .note.Xen, "a", @note;                                       \
    .balign 4;                                                                \
    .long 2f - 1f;                                                            \
    .long 4f - 3f;                                                            \
    .long type;                                                               \
1:  .asciz "Xen";                                                             \
2:  .balign 4;                                                                \
3:  desc;                                                                     \
4:  .balign 4;                                                                \
    .popsection

ELFNOTE(XEN_ELFNOTE_GUEST_OS, .asciz "Tessera")
ELFNOTE(XEN_ELFNOTE_GUEST_VERSION, .asciz "0.1")
ELFNOTE(XEN_ELFNOTE_XEN_VERSION, .asciz "xen-3.0")
ELFNOTE(XEN_ELFNOTE_LOADER, .asciz "generic")
ELFNOTE(XEN_ELFNOTE_VIRT_BASE, .quad 0)
ELFNOTE(XEN_ELFNOTE_PADDR_OFFSET, .quad 0)
ELFNOTE(XEN_ELFNOTE_ENTRY, .quad _start)
ELFNOTE(XEN_ELFNOTE_HYPERCALL_PAGE, .quad hypercall_page)

/* Xen fills the hypercall page when it builds the domain, after loading
 * (and zeroing) .bss: hypercall N is at hypercall_page + 32 * N. */
    .section .bss.page, "aw", @nobits
    .balign 4096
    .globl hypercall_page
hypercall_page:
    .skip 4096
    .globl xen_shared_info_page
xen_shared_info_page:
    .skip 4096

    .section .bss
    .balign 16
xen_boot_stack:
    .skip 65536
    .globl xen_boot_stack_top
xen_boot_stack_top:

    .section .text.boot, "ax", @progbits
    .code64
    .globl _start
/* Xen starts us with %rsi = start_info, on a stack in the bootstrap area
 * (which the page allocator reuses: move off it at once). */
_start:
    cld
    leaq xen_boot_stack_top(%rip), %rsp
    xorl %ebp, %ebp
    movq %rsi, %rdi
    call xen_start
1:  hlt
    jmp 1b

    .text
/* Event upcall. Events are only ever unmasked inside SCHEDOP_block (the
 * scheduler's engine demultiplexes pending ports itself, outside any
 * upcall), so there is nothing to do here but return: Xen masked events
 * when it made this frame, and a direct iretq leaves them masked. Xen's
 * x86_64 frame has %rcx and %r11 on top of the iret frame. */
    .globl xen_event_upcall
xen_event_upcall:
    movq (%rsp), %rcx
    movq 8(%rsp), %r11
    addq $16, %rsp
    orb $3, 8(%rsp)          /* the kernel runs in ring 3 */
    orb $3, 32(%rsp)
    iretq

/* Exceptions: each stub makes the frame uniform (an error code, the
 * vector), saves the registers, and calls xen_trap, which reports the
 * crash and stops the domain; it does not return. */
#define TRAP_NOERR(vec, name) \
    .globl name; name: movq (%rsp), %rcx; movq 8(%rsp), %r11; addq $16, %rsp; pushq $0; pushq $vec; jmp trap_common
#define TRAP_ERR(vec, name) \
    .globl name; name: movq (%rsp), %rcx; movq 8(%rsp), %r11; addq $16, %rsp; pushq $vec; jmp trap_common

TRAP_NOERR(0, xen_trap_divide)
TRAP_NOERR(1, xen_trap_debug)
TRAP_NOERR(3, xen_trap_int3)
TRAP_NOERR(4, xen_trap_overflow)
TRAP_NOERR(5, xen_trap_bounds)
TRAP_NOERR(6, xen_trap_invalid_op)
TRAP_NOERR(7, xen_trap_no_device)
TRAP_ERR(10, xen_trap_invalid_tss)
TRAP_ERR(11, xen_trap_segment_not_present)
TRAP_ERR(12, xen_trap_stack_segment)
TRAP_ERR(13, xen_trap_general_protection)
TRAP_ERR(14, xen_trap_page_fault)
TRAP_NOERR(16, xen_trap_fpu)
TRAP_ERR(17, xen_trap_alignment)
TRAP_NOERR(19, xen_trap_simd)

/* A failed return to the guest (bad segment on iret): Xen's frame here
 * has %ds, %es, %fs, %gs above %rcx and %r11; treat it as vector 256. */
    .globl xen_failsafe_callback
xen_failsafe_callback:
    movq (%rsp), %rcx
    movq 8(%rsp), %r11
    addq $48, %rsp
    pushq $0
    pushq $256
    jmp trap_common

/* Stack now: vector, error code, rip, cs, rflags, rsp, ss. Push the
 * general registers so that the C side sees struct xen_trap_frame. */
trap_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    andq $-16, %rsp
    call xen_trap
1:  hlt
    jmp 1b
