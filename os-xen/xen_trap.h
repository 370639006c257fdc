/* The exception table and the crash report (xen_trap.c); xen_crash is
 * declared in xen_arch.h for every part of os-xen/. Private. */
#ifndef TESSERA_XEN_TRAP_H
#define TESSERA_XEN_TRAP_H

/* Installs the exception handlers. Boot only. */
void xen_traps_init(void);

#endif
