/* oom: allocates N MiB (the first argument) with malloc, one 1 MiB block at
 * a time, writing to every page so that the memory is really there, and
 * keeps the blocks on a list; reports every 8 MiB; then checks what it
 * wrote, frees everything and says so. When malloc returns NULL it says how
 * far it got, frees what it has and rejects its main promise with
 * -LWT_ENOMEM. For watching a platform's memory limits (on Xen the guest's
 * allocator stops the guest first, with its own message). */
#include <stdlib.h>

#include "app.h"
#include "scheduler.h"

#define OOM_BLOCK        (1024 * 1024)
#define OOM_PAGE         4096 /* the smallest page any platform has */
#define OOM_PROGRESS_MIB 8
#define OOM_MAX_MIB      (1024 * 1024)

/* At the start of each block: the list the app keeps. */
struct oom_block {
    struct oom_block *next;
    size_t index;
};

/* Copied from step to step (each continuation has its own copy). */
struct oom {
    const struct app_devices *dev;
    size_t want, have; /* MiB */
    struct oom_block *blocks;
};

/* What block `index` holds in the last byte of page `page`. */
static unsigned char mark(size_t index, size_t page)
{
    return (unsigned char)(index * 31 + page + 1);
}

static struct oom_block *block_new(size_t index)
{
    unsigned char *mem = malloc(OOM_BLOCK);
    if (!mem)
        return NULL;
    for (size_t page = 0; page < OOM_BLOCK / OOM_PAGE; page++)
        mem[page * OOM_PAGE + OOM_PAGE - 1] = mark(index, page);
    struct oom_block *b = (struct oom_block *)mem;
    b->index = index;
    return b;
}

/* Frees every block; returns how many did not hold what was written. */
static size_t free_all(struct oom_block *b)
{
    size_t bad = 0;
    while (b) {
        struct oom_block *next = b->next;
        const unsigned char *mem = (const unsigned char *)b;
        for (size_t page = 0; page < OOM_BLOCK / OOM_PAGE; page++)
            bad += mem[page * OOM_PAGE + OOM_PAGE - 1] != mark(b->index, page);
        free(b);
        b = next;
    }
    return bad;
}

static lwt_t *finish(struct oom *o)
{
    size_t bad = free_all(o->blocks);
    if (bad) {
        app_print(o->dev, "oom: %zu pages did not hold what was written to them", bad);
        return lwt_fail(LWT_EIO);
    }
    app_print(o->dev, "oom: allocated %zu MiB, freed", o->have);
    return lwt_return(NULL);
}

/* Up to OOM_PROGRESS_MIB blocks, then a pause so that the console and
 * everything else get their turn. */
static lwt_t *step(void *v, void *ctx)
{
    (void)v;
    struct oom o = *(struct oom *)ctx;
    for (int i = 0; i < OOM_PROGRESS_MIB && o.have < o.want; i++) {
        struct oom_block *b = block_new(o.have);
        if (!b) {
            /* Free first: reporting may itself need memory. */
            free_all(o.blocks);
            app_print(o.dev, "oom: out of memory: malloc of 1 MiB returned NULL after %zu MiB of %zu", o.have, o.want);
            return lwt_fail(LWT_ENOMEM);
        }
        b->next = o.blocks;
        o.blocks = b;
        o.have++;
    }
    if (o.have % OOM_PROGRESS_MIB == 0)
        app_print(o.dev, "oom: %zu MiB allocated", o.have);
    if (o.have == o.want)
        return finish(&o);
    return lwt_bind(sched_pause(), step, LWT_CTX(o));
}

/* N in 1..OOM_MAX_MIB, decimal; -LWT_EINVAL otherwise. */
static int parse_mib(const char *text, size_t *mib)
{
    size_t v = 0;
    if (!*text)
        return -LWT_EINVAL;
    for (; *text; text++) {
        if (*text < '0' || *text > '9')
            return -LWT_EINVAL;
        v = v * 10 + (size_t)(*text - '0');
        if (v > OOM_MAX_MIB)
            return -LWT_EINVAL;
    }
    if (v == 0)
        return -LWT_EINVAL;
    *mib = v;
    return 0;
}

lwt_t *app_main(const struct app_devices *dev, int argc, char **argv)
{
    struct oom o = {.dev = dev};
    if (argc != 2 || parse_mib(argv[1], &o.want) < 0) {
        app_print(dev, "usage: oom N (MiB to allocate, 1 to %d)", OOM_MAX_MIB);
        return lwt_fail(LWT_EINVAL);
    }
    return lwt_bind(lwt_return(NULL), step, LWT_CTX(o));
}
