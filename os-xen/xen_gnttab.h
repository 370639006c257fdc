/* Grant tables (v1): lets another domain (a backend) map or copy one of
 * our pages. A driver grants each ring and buffer page it shares and ends
 * the grant when it takes the page back. The table counts grants in use,
 * so that a driver's teardown can be checked for leaks. Single vCPU;
 * private to os-xen/ and its drivers.
 */
#ifndef TESSERA_XEN_GNTTAB_H
#define TESSERA_XEN_GNTTAB_H

#include <stdbool.h>
#include <stdint.h>

typedef uint32_t xen_grant_ref;

/* Sets up the table (GNTTABOP_setup_table) and maps its frames. Idempotent;
 * 0 or a negative LWT_E* code. */
int xen_gnttab_init(void);

/* Grants domain `dom` access to the page at `page` (page-aligned, ours),
 * read-only or writable: the grant reference, or -LWT_ENOSPC when the
 * table is full, or -LWT_EINVAL before init. */
int xen_gnttab_grant(uint16_t dom, const void *page, bool readonly);
/* Ends a grant: 0, or -LWT_EBUSY while the other domain still has the page
 * mapped (the grant stays; try again after the backend has let go). */
int xen_gnttab_end(xen_grant_ref ref);

/* Grants in use: 0 once every driver has ended its grants. */
unsigned xen_gnttab_in_use(void);

#endif
