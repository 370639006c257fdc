/* The memory block device (block_mem.h).
 *
 * A held request lives inside its own task (lwt_task_with), on a FIFO
 * list, with a hook that takes it off the list when its promise settles:
 * a cancelled request never touches the caller's buffer (until its hook
 * has run, completion sees that the promise no longer waits). Completion
 * takes it off the list first, then wakes it.
 */
#include "block_mem.h"

#include <stdlib.h>
#include <string.h>

enum mem_op { MEM_READ, MEM_WRITE, MEM_FLUSH };

struct mem_req {
    struct lwt_hook hook;
    struct mem_req *next, **pprev; /* the held list; pprev NULL when off it */
    lwt_resolver_t *resolver;      /* until consumed */
    struct block_mem *dev;
    enum mem_op op;
    uint64_t sector;
    void *buf;
    size_t len;
};

struct block_mem {
    struct block b; /* first: a struct block * is a struct block_mem * */
    uint8_t *data;
    bool hold;
    struct mem_req *head, **tail;
    size_t held;
    int fail_err;
    uint64_t fail_sector, fail_count;
    bool fail_flush;
};

static struct block_mem *mem_of(struct block *b)
{
    return (struct block_mem *)b;
}

static int fault(const struct block_mem *m, enum mem_op op, uint64_t sector, size_t len)
{
    if (!m->fail_err)
        return 0;
    if (op == MEM_FLUSH)
        return m->fail_flush ? m->fail_err : 0;
    uint64_t end = sector + len / m->b.sector_size;
    bool touches = sector < m->fail_sector + m->fail_count && m->fail_sector < end;
    return touches ? m->fail_err : 0;
}

/* Does the work of one request: 0 or its error. */
static int perform(struct block_mem *m, enum mem_op op, uint64_t sector, void *buf, size_t len)
{
    int err = fault(m, op, sector, len);
    struct block_stats *s = &m->b.stats;
    if (err) {
        s->errors++;
        return err;
    }
    uint8_t *at = m->data + sector * m->b.sector_size;
    switch (op) {
    case MEM_READ:
        if (len)
            memcpy(buf, at, len);
        s->reads++;
        s->read_bytes += len;
        break;
    case MEM_WRITE:
        if (len)
            memcpy(at, buf, len);
        s->writes++;
        s->written_bytes += len;
        break;
    case MEM_FLUSH:
        s->flushes++;
        break;
    }
    return 0;
}

static void unlink_req(struct mem_req *r)
{
    if (!r->pprev)
        return;
    *r->pprev = r->next;
    if (r->next)
        r->next->pprev = r->pprev;
    else
        r->dev->tail = r->pprev;
    r->pprev = NULL;
    r->dev->held--;
}

static void on_settled(struct lwt_hook *hook, lwt_t *settled)
{
    (void)settled;
    struct mem_req *r = (struct mem_req *)hook;
    unlink_req(r);
    if (r->resolver) {
        /* Cancelled while held: only the reference goes. */
        lwt_resolver_t *res = r->resolver;
        r->resolver = NULL;
        lwt_resolver_drop(res);
    }
}

static lwt_t *submit(struct block_mem *m, enum mem_op op, uint64_t sector, void *buf, size_t len)
{
    if (!m->hold) {
        int err = perform(m, op, sector, buf, len);
        return err ? lwt_fail(err) : lwt_return(NULL);
    }
    struct mem_req *r;
    lwt_resolver_t *res;
    lwt_t *p = lwt_task_with(&res, sizeof *r, (void **)&r);
    *r = (struct mem_req){.resolver = res, .dev = m, .op = op, .sector = sector, .buf = buf, .len = len};
    r->pprev = m->tail;
    *m->tail = r;
    m->tail = &r->next;
    m->held++;
    lwt_hook_attach(p, &r->hook, on_settled);
    return p;
}

static lwt_t *mem_read(struct block *b, uint64_t sector, void *buf, size_t len)
{
    int err = block_check(b, sector, buf, len, false);
    if (err)
        return lwt_fail(err);
    return submit(mem_of(b), MEM_READ, sector, buf, len);
}

static lwt_t *mem_write(struct block *b, uint64_t sector, const void *buf, size_t len)
{
    int err = block_check(b, sector, buf, len, true);
    if (err)
        return lwt_fail(err);
    return submit(mem_of(b), MEM_WRITE, sector, (void *)buf, len);
}

static lwt_t *mem_flush(struct block *b)
{
    return submit(mem_of(b), MEM_FLUSH, 0, NULL, 0);
}

static const struct block_ops mem_ops = {
    .read = mem_read,
    .write = mem_write,
    .flush = mem_flush,
};

int block_mem_new(uint32_t sector_size, uint64_t sectors, bool read_only, struct block **out)
{
    *out = NULL;
    if (!block_sector_size_ok(sector_size) || sectors > SIZE_MAX / sector_size)
        return -LWT_EINVAL;
    size_t bytes = (size_t)sectors * sector_size;
    struct block_mem *m = malloc(sizeof *m);
    uint8_t *data = malloc(bytes ? bytes : 1);
    if (!m || !data) {
        free(m);
        free(data);
        return -LWT_ENOMEM;
    }
    memset(data, 0, bytes);
    *m = (struct block_mem){
        .b = {.ops = &mem_ops, .sector_size = sector_size, .sectors = sectors, .read_only = read_only, .name = "mem"},
        .data = data,
    };
    m->tail = &m->head;
    *out = &m->b;
    return 0;
}

int block_mem_new_from(const void *data, size_t len, uint32_t sector_size, bool read_only, struct block **out)
{
    if (!block_sector_size_ok(sector_size)) {
        *out = NULL;
        return -LWT_EINVAL;
    }
    uint64_t sectors = (uint64_t)(len / sector_size) + (len % sector_size ? 1 : 0);
    int rc = block_mem_new(sector_size, sectors, read_only, out);
    if (rc == 0 && len)
        memcpy(mem_of(*out)->data, data, len);
    return rc;
}

void block_mem_free(struct block *b)
{
    if (!b)
        return;
    struct block_mem *m = mem_of(b);
    while (m->head) {
        struct mem_req *r = m->head;
        lwt_resolver_t *res = r->resolver;
        unlink_req(r);
        r->resolver = NULL;
        lwt_wakeup_fail(res, -LWT_ECANCELED);
    }
    free(m->data);
    free(m);
}

uint8_t *block_mem_data(struct block *b)
{
    return mem_of(b)->data;
}

void block_mem_hold(struct block *b, bool hold)
{
    mem_of(b)->hold = hold;
}

size_t block_mem_held(const struct block *b)
{
    return ((const struct block_mem *)b)->held;
}

size_t block_mem_complete(struct block *b, size_t n)
{
    struct block_mem *m = mem_of(b);
    size_t done = 0;
    while (done < n && m->head) {
        struct mem_req *r = m->head;
        unlink_req(r);
        lwt_resolver_t *res = r->resolver;
        r->resolver = NULL;
        if (lwt_state(lwt_resolver_promise(res)) != LWT_PENDING) {
            /* Cancelled, its hook still to run: it does nothing more. */
            lwt_resolver_drop(res);
            continue;
        }
        int err = perform(m, r->op, r->sector, r->buf, r->len);
        /* r may be gone once woken: nothing of it is used after. */
        if (err)
            lwt_wakeup_fail(res, err);
        else
            lwt_wakeup(res, NULL);
        done++;
    }
    return done;
}

void block_mem_fail(struct block *b, uint64_t sector, uint64_t count, int err, bool flush_too)
{
    struct block_mem *m = mem_of(b);
    m->fail_err = err;
    m->fail_sector = sector;
    m->fail_count = count;
    m->fail_flush = flush_too;
}
