/* See xen_gnttab.h. Free references are kept on a list threaded through
 * an array beside the table (the table itself belongs to Xen as much as
 * to us). The protocol for ending a grant is the one grant_table.h
 * prescribes: the entry may be reused only after a compare-and-exchange
 * from flags without GTF_reading/GTF_writing to 0 succeeded. */
#include <stddef.h>
#include <stdint.h>

#include <xen/grant_table.h>
#include <xen/memory.h>

#include "lwt.h"
#include "xen_arch.h"
#include "xen_gnttab.h"
#include "xen_hypercall.h"

#define GNTTAB_FRAMES  4
#define GNTTAB_ENTRIES (GNTTAB_FRAMES * XEN_PAGE_SIZE / sizeof(grant_entry_v1_t))
#define END_OF_LIST    UINT32_MAX

static struct {
    grant_entry_v1_t *table;
    uint32_t next_free[GNTTAB_ENTRIES];
    uint32_t free_head;
    unsigned in_use;
} G;

/* Virtual space for the table: pages of our own, remapped onto Xen's
 * frames. */
static char table_pages[GNTTAB_FRAMES][XEN_PAGE_SIZE] __attribute__((aligned(4096)));

int xen_gnttab_init(void)
{
    if (G.table)
        return 0;
    xen_pfn_t frames[GNTTAB_FRAMES];
    gnttab_setup_table_t setup = {.dom = DOMID_SELF, .nr_frames = GNTTAB_FRAMES};
    set_xen_guest_handle(setup.frame_list, frames);
    if (HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &setup, 1) < 0 || setup.status != GNTST_okay)
        return -LWT_EIO;
    for (unsigned i = 0; i < GNTTAB_FRAMES; i++)
        if (HYPERVISOR_update_va_mapping((uintptr_t)table_pages[i], (frames[i] << XEN_PAGE_SHIFT) | 7, UVMF_INVLPG) < 0)
            return -LWT_EIO;
    G.table = (grant_entry_v1_t *)(void *)table_pages;
    /* The first entries are reserved for the toolstack. */
    G.free_head = END_OF_LIST;
    for (uint32_t ref = GNTTAB_ENTRIES; ref-- > GNTTAB_NR_RESERVED_ENTRIES;) {
        G.next_free[ref] = G.free_head;
        G.free_head = ref;
    }
    return 0;
}

int xen_gnttab_grant(uint16_t dom, const void *page, bool readonly)
{
    if (!G.table)
        return -LWT_EINVAL;
    if (G.free_head == END_OF_LIST)
        return -LWT_ENOSPC;
    uint32_t ref = G.free_head;
    G.free_head = G.next_free[ref];
    grant_entry_v1_t *e = &G.table[ref];
    e->domid = dom;
    e->frame = (uint32_t)xen_virt_to_mfn(page);
    xen_wmb();
    e->flags = (uint16_t)(GTF_permit_access | (readonly ? GTF_readonly : 0));
    G.in_use++;
    return (int)ref;
}

int xen_gnttab_end(xen_grant_ref ref)
{
    if (!G.table || ref < GNTTAB_NR_RESERVED_ENTRIES || ref >= GNTTAB_ENTRIES)
        return -LWT_EINVAL;
    grant_entry_v1_t *e = &G.table[ref];
    uint16_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
    if ((flags & GTF_type_mask) != GTF_permit_access)
        return -LWT_EINVAL; /* not granted: ended twice? */
    do {
        if (flags & (GTF_reading | GTF_writing))
            return -LWT_EBUSY;
    } while (!__atomic_compare_exchange_n(&e->flags, &flags, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    G.next_free[ref] = G.free_head;
    G.free_head = ref;
    G.in_use--;
    return 0;
}

unsigned xen_gnttab_in_use(void)
{
    return G.in_use;
}
