/* See xen_mm.h.
 *
 * The domain builder maps the image, the p2m list, start_info, the
 * bootstrap page tables and a stack, 1:1 from virtual address 0, as a
 * contiguous run of pfns starting at 0. Its L1 tables map exactly
 * (nr_pt_frames - 3) * 512 pages here (one L4, L3 and L2 frame each, the
 * rest L1, as long as the domain has less than 1 GiB). We map the rest the
 * way any PV kernel must: each new L1 table is a free page that is zeroed,
 * remapped read-only (Xen refuses a page table the guest can write) and
 * then hooked into the L2 table with mmu_update. The bootstrap stack is
 * past the page tables and free once _start has left it.
 */
#include <stdbool.h>
#include <string.h>

#include "xen_arch.h"
#include "xen_hypercall.h"
#include "xen_mm.h"

#define PTE_PRESENT        0x001ul
#define PTE_RW             0x002ul
#define PTE_USER           0x004ul /* the PV kernel runs in ring 3 */
#define PTE_ACCESSED       0x020ul
#define PTE_DIRTY          0x040ul
#define PTE_MFN_MASK       0x000ffffffffff000ul
#define L1_PROT            (PTE_PRESENT | PTE_RW | PTE_ACCESSED | PTE_USER)
#define L2_PROT            (PTE_PRESENT | PTE_RW | PTE_ACCESSED | PTE_DIRTY | PTE_USER)
#define PT_ENTRIES         512
#define NON_L1_BOOT_FRAMES 3 /* L4, L3, L2 */

static struct {
    uint64_t next_pfn;  /* lowest free pfn: the heap grows from here */
    uint64_t limit_pfn; /* pages below here are free, from here up handed out */
    uint64_t nr_pages;
    uintptr_t heap_top;
    void *free_pages; /* pages given back, linked through their first word */
    size_t nr_free_listed;
} M;

static uint64_t *pt_virt(uint64_t entry)
{
    return (uint64_t *)xen_mfn_to_virt((entry & PTE_MFN_MASK) >> XEN_PAGE_SHIFT);
}

static void mmu_set(uint64_t table_mfn, unsigned index, uint64_t value)
{
    mmu_update_t u = {.ptr = ((table_mfn << XEN_PAGE_SHIFT) + index * sizeof(uint64_t)) | MMU_NORMAL_PT_UPDATE,
                      .val = value};
    if (HYPERVISOR_mmu_update(&u, 1, NULL, DOMID_SELF) < 0)
        xen_crash("mmu_update refused a page table entry");
}

/* Maps pfns [first, end), all in the first GiB, taking L1 frames from
 * M.next_pfn (which must already be mapped). */
static void map_range(uint64_t first, uint64_t end)
{
    uint64_t *l4 = (uint64_t *)xen_start_info->pt_base;
    uint64_t *l3 = pt_virt(l4[0]);
    uint64_t l2_mfn = (l3[0] & PTE_MFN_MASK) >> XEN_PAGE_SHIFT;
    uint64_t *l2 = pt_virt(l3[0]);
    enum { BATCH = 64 };
    mmu_update_t batch[BATCH];
    unsigned n = 0;
    for (uint64_t pfn = first; pfn < end; pfn++) {
        unsigned i2 = (unsigned)(pfn / PT_ENTRIES), i1 = (unsigned)(pfn % PT_ENTRIES);
        if (!(l2[i2] & PTE_PRESENT)) {
            if (n && HYPERVISOR_mmu_update(batch, n, NULL, DOMID_SELF) < 0)
                xen_crash("mmu_update refused a mapping");
            n = 0;
            uint64_t pt_pfn = M.next_pfn++;
            void *pt = (void *)(uintptr_t)(pt_pfn << XEN_PAGE_SHIFT);
            memset(pt, 0, XEN_PAGE_SIZE);
            uint64_t pt_mfn = xen_pfn_to_mfn(pt_pfn);
            if (HYPERVISOR_update_va_mapping((uintptr_t)pt, (pt_mfn << XEN_PAGE_SHIFT) | PTE_PRESENT | PTE_USER,
                                             UVMF_INVLPG) < 0)
                xen_crash("cannot make a new page table read-only");
            mmu_set(l2_mfn, i2, (pt_mfn << XEN_PAGE_SHIFT) | L2_PROT);
        }
        uint64_t l1_mfn = (l2[i2] & PTE_MFN_MASK) >> XEN_PAGE_SHIFT;
        batch[n].ptr = ((l1_mfn << XEN_PAGE_SHIFT) + i1 * sizeof(uint64_t)) | MMU_NORMAL_PT_UPDATE;
        batch[n].val = (xen_pfn_to_mfn(pfn) << XEN_PAGE_SHIFT) | L1_PROT;
        if (++n == BATCH) {
            if (HYPERVISOR_mmu_update(batch, n, NULL, DOMID_SELF) < 0)
                xen_crash("mmu_update refused a mapping");
            n = 0;
        }
    }
    if (n && HYPERVISOR_mmu_update(batch, n, NULL, DOMID_SELF) < 0)
        xen_crash("mmu_update refused a mapping");
}

void xen_mm_init(void)
{
    const start_info_t *si = xen_start_info;
    M.nr_pages = si->nr_pages;
    if (M.nr_pages > PT_ENTRIES * PT_ENTRIES)
        M.nr_pages = PT_ENTRIES * PT_ENTRIES; /* what one L2 table maps: 1 GiB */
    M.next_pfn = ((si->pt_base + XEN_PAGE_SIZE - 1) >> XEN_PAGE_SHIFT) + si->nr_pt_frames;
    uint64_t mapped = (si->nr_pt_frames - NON_L1_BOOT_FRAMES) * PT_ENTRIES;
    if (mapped < M.nr_pages)
        map_range(mapped, M.nr_pages);
    M.limit_pfn = M.nr_pages;
    M.heap_top = (uintptr_t)(M.next_pfn << XEN_PAGE_SHIFT);
}

void *xen_page_alloc(void)
{
    void *page;
    if (M.free_pages) {
        page = M.free_pages;
        M.free_pages = *(void **)page;
        M.nr_free_listed--;
    } else {
        uint64_t heap_pfn = (M.heap_top + XEN_PAGE_SIZE - 1) >> XEN_PAGE_SHIFT;
        if (M.limit_pfn <= heap_pfn)
            return NULL;
        page = (void *)(uintptr_t)(--M.limit_pfn << XEN_PAGE_SHIFT);
    }
    memset(page, 0, XEN_PAGE_SIZE);
    return page;
}

void xen_page_free(void *page)
{
    if (!page)
        return;
    *(void **)page = M.free_pages;
    M.free_pages = page;
    M.nr_free_listed++;
}

void *xen_heap_grow(size_t bytes)
{
    uintptr_t limit = (uintptr_t)(M.limit_pfn << XEN_PAGE_SHIFT);
    if (bytes > limit - M.heap_top)
        return NULL;
    void *start = (void *)M.heap_top;
    M.heap_top += bytes;
    return start;
}

size_t xen_mm_total_pages(void)
{
    return (size_t)M.nr_pages;
}

size_t xen_mm_free_pages(void)
{
    uint64_t heap_pfn = (M.heap_top + XEN_PAGE_SIZE - 1) >> XEN_PAGE_SHIFT;
    return (size_t)(M.limit_pfn - heap_pfn) + M.nr_free_listed;
}
