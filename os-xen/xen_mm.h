/* Memory (x86_64 PV): maps every page the domain owns (Xen maps only the
 * image and its bootstrap area) and hands out the free ones, as whole pages
 * from the top and as one growing heap for malloc from the bottom. Private
 * to os-xen/; single-threaded, like everything here.
 */
#ifndef TESSERA_XEN_MM_H
#define TESSERA_XEN_MM_H

#include <stddef.h>
#include <stdint.h>

/* Maps the rest of memory and makes the free pages available. Boot only;
 * a failure is fatal. */
void xen_mm_init(void);

/* One zeroed, page-aligned page (for rings and grants), or NULL when
 * memory is exhausted. xen_page_free gives it back. */
void *xen_page_alloc(void);
void xen_page_free(void *page);

/* Grows the heap by `bytes` (a multiple of 16) and returns the start of the
 * new part, or NULL when that would run into the pages handed out. */
void *xen_heap_grow(size_t bytes);

/* Totals for messages: pages the domain has, and pages still free
 * (between the heap's top and the lowest page handed out, plus freed
 * pages). */
size_t xen_mm_total_pages(void);
size_t xen_mm_free_pages(void);

#endif
