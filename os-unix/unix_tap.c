/* See unix_tap.h.
 *
 * Reentrancy: fill and the listener are the caller's code and may call
 * back into the tap, unix_tap_close included. `busy` counts those calls in
 * progress; a close during one tears everything down but leaves the struct
 * itself to be freed by the outermost call once it returns (leave()).
 *
 * Received buffers outlive the tap if the listener keeps them: they belong
 * to a pool that is freed with its last buffer.
 *
 * Offload: with IFF_VNET_HDR every frame, read or written, follows a
 * struct virtio_net_hdr (VNET_HDR bytes). Writing, it tells the kernel
 * what to finish: a partial TCP checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM) and
 * TSO (VIRTIO_NET_HDR_GSO_TCPV4), which the kernel does in software, or
 * not at all when the packet is for its own stack (a socket takes a TSO
 * packet whole, its checksum trusted). Reading, TUNSETOFFLOAD 0 keeps the
 * kernel from sending us anything of the kind: it cuts and sums every frame
 * for us, and the header it puts in front has nothing to say. The header
 * lives in the buffers' first bytes, in front of the frame: the netif's
 * slices start after it, and a frame goes out in one write, or one writev
 * when its data is the write's tail (TCP's send buffer, not copied here).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "netif_waiters.h"
#include "unix_io.h"
#include "unix_platform.h"
#include "unix_tap.h"

static struct log_source tap_log = LOG_SOURCE("tap");

#define CONTAINER_OF(ptr, type, field) ((type *)(void *)((char *)(ptr)-offsetof(type, field)))

/* How many queued frames listen may discard before it gives up: enough
 * for the kernel's queue (500 frames by default), bounded in case a peer
 * keeps sending. */
#define DISCARD_MAX 1024

/* The virtio-net header in front of each frame with offload on. */
#define VNET_HDR sizeof(struct virtio_net_hdr)

struct rx_buf {
    struct net_buf nb;
    struct rx_buf *next; /* in the pool's free list */
    uint8_t data[];
};

struct rx_pool {
    struct rx_buf *free;
    size_t nfree;
    size_t outstanding; /* handed out, not yet back */
    size_t cap;         /* bytes per buffer */
    bool closed;        /* the tap is gone: the last buffer back frees the pool */
};

/* The deferred step that reads and delivers frames, in its promise's
 * storage; the engine callback only schedules it. */
struct rx_kick {
    struct lwt_hook hook;
    struct unix_tap *tap; /* NULL once the tap is closed */
};

struct unix_tap {
    struct netif netif;
    int fd;
    size_t frame_max;           /* mtu + NETIF_ETH_HDR */
    size_t vnet;                /* VNET_HDR with offload on, else 0: in front of each frame */
    struct unix_engine *engine; /* the one the watches were started on */
    char ifname[IFNAMSIZ];

    netif_rx_fn rx;
    void *rx_ctx;
    struct unix_watch rx_watch;
    struct rx_kick *kick; /* the scheduled delivery step, if any */
    lwt_t *kick_p;        /* owned: keeps kick's storage alive */
    struct rx_pool *pool;

    struct net_buf *txb; /* the transmit buffer, reused for every frame, vnet header first */
    size_t tx_pending;   /* length of what waits in txb (vnet header and frame); 0: none */
    struct unix_watch tx_watch;
    struct netif_waiters waiters; /* wait_writable promises still pending */

    unsigned busy; /* fill or listener calls in progress */
    bool filling;
    bool closed;
};

/* ---- Receive buffers ------------------------------------------------------ */

static void rx_buf_destroy(struct net_buf *nb)
{
    struct rx_buf *b = CONTAINER_OF(nb, struct rx_buf, nb);
    struct rx_pool *pool = nb->owner;
    pool->outstanding--;
    if (!pool->closed && pool->nfree < UNIX_TAP_RX_POOL) {
        b->next = pool->free;
        pool->free = b;
        pool->nfree++;
    } else {
        free(b);
    }
    if (pool->closed && pool->outstanding == 0)
        free(pool);
}

static struct rx_buf *rx_buf_get(struct rx_pool *pool)
{
    struct rx_buf *b = pool->free;
    if (b) {
        pool->free = b->next;
        pool->nfree--;
    } else if (!(b = malloc(sizeof *b + pool->cap))) {
        return NULL;
    }
    net_buf_init(&b->nb, b->data, pool->cap, rx_buf_destroy, pool);
    pool->outstanding++;
    return b;
}

static void rx_pool_close(struct rx_pool *pool)
{
    pool->closed = true;
    while (pool->free) {
        struct rx_buf *b = pool->free;
        pool->free = b->next;
        free(b);
    }
    pool->nfree = 0;
    if (pool->outstanding == 0)
        free(pool);
}

/* ---- Closing -------------------------------------------------------------- */

static void stop_watch(struct unix_tap *t, struct unix_watch *w)
{
    /* After unix_platform_stop the engine, and its watches, are gone. */
    if (w->active && t->engine && unix_platform_engine() == t->engine)
        unix_watch_stop(t->engine, w);
}

static void tap_free(struct unix_tap *t)
{
    net_buf_unref(t->txb);
    free(t);
}

/* Ends a call into the caller's code; true if the tap was closed during
 * it and is now freed. */
static bool leave(struct unix_tap *t)
{
    t->busy--;
    if (t->closed && t->busy == 0) {
        tap_free(t);
        return true;
    }
    return false;
}

void unix_tap_close(struct unix_tap *t)
{
    if (!t || t->closed)
        return;
    stop_watch(t, &t->rx_watch);
    stop_watch(t, &t->tx_watch);
    t->rx = NULL;
    if (t->kick) {
        t->kick->tap = NULL;
        lwt_unref(t->kick_p);
        t->kick = NULL;
        t->kick_p = NULL;
    }
    if (t->tx_pending) {
        t->netif.stats.tx_dropped++;
        t->tx_pending = 0;
    }
    netif_waiters_wake_all(&t->waiters, -LWT_ECANCELED);
    unix_close(t->fd);
    t->fd = -1;
    rx_pool_close(t->pool);
    t->pool = NULL;
    t->closed = true;
    if (t->busy == 0)
        tap_free(t);
}

/* ---- Sending -------------------------------------------------------------- */

/* One attempt at the len bytes of iov (vnet header and frame, in txb and
 * perhaps a tail elsewhere): 0 (sent, or dropped by the kernel and
 * counted), -LWT_EAGAIN, or another error (counted). */
static int send_frame(struct unix_tap *t, const struct iovec *iov, int iovcnt, size_t len)
{
    ssize_t n;
    do
        n = iovcnt == 1 ? write(t->fd, iov[0].iov_base, len) : writev(t->fd, iov, iovcnt);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)len) {
        t->netif.stats.tx_frames++;
        t->netif.stats.tx_bytes += len - t->vnet;
        return 0;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return -LWT_EAGAIN;
    if (n < 0 && (errno == ENOBUFS || errno == ENOMEM)) {
        t->netif.stats.tx_dropped++;
        return 0;
    }
    int err = n < 0 ? -errno : -LWT_EIO;
    t->netif.stats.tx_errors++;
    log_debug(&tap_log, "%s: write: %s", t->ifname, lwt_strerror(err));
    return err;
}

static void on_writable(struct unix_watch *w, unsigned revents)
{
    (void)revents;
    struct unix_tap *t = CONTAINER_OF(w, struct unix_tap, tx_watch);
    struct iovec iov = {t->txb->data, t->tx_pending};
    if (send_frame(t, &iov, 1, t->tx_pending) == -LWT_EAGAIN)
        return;
    stop_watch(t, w);
    t->tx_pending = 0;
    netif_waiters_wake_all(&t->waiters, 0);
}

/* The kernel could not take the frame in txb: keep it until it can. */
static int keep_pending(struct unix_tap *t, size_t len)
{
    struct unix_engine *e = unix_platform_engine();
    if (!e)
        goto drop;
    t->tx_watch.fd = t->fd;
    t->tx_watch.events = UNIX_WRITABLE;
    t->tx_watch.cb = on_writable;
    if (unix_watch_start(e, &t->tx_watch) < 0)
        goto drop;
    t->engine = e;
    t->tx_pending = len;
    return 0;
drop:
    t->netif.stats.tx_dropped++;
    return 0;
}

/* The virtio-net header for a frame of len bytes (off: NULL for none), in
 * the byte order of the legacy header, the host's. -LWT_EINVAL if off
 * points past the frame. */
static int vnet_header(uint8_t *out, size_t len, const struct netif_tx_offload *off)
{
    struct virtio_net_hdr h = {.gso_type = VIRTIO_NET_HDR_GSO_NONE};
    if (off && off->csum_partial) {
        if ((size_t)off->csum_start + off->csum_offset + 2 > len)
            return -LWT_EINVAL;
        h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h.csum_start = off->csum_start;
        h.csum_offset = off->csum_offset;
    }
    if (off && off->gso_size) {
        if (!off->csum_partial || off->hdr_len > len)
            return -LWT_EINVAL;
        h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        h.gso_size = off->gso_size;
        h.hdr_len = off->hdr_len;
    }
    memcpy(out, &h, sizeof h);
    return 0;
}

static int tap_send(struct unix_tap *t, size_t size, const struct netif_tx_offload *off, netif_fill_fn fill, void *ctx)
{
    struct netif *n = &t->netif;
    if (t->closed)
        return -LWT_EBADF;
    if (off && (!t->vnet || (off->gso_size && !n->tso_max) || (off->csum_partial && !n->tx_csum)))
        return -LWT_EINVAL;
    if (size > (off && off->gso_size ? n->tso_max + NETIF_ETH_HDR : t->frame_max))
        return -LWT_EMSGSIZE;
    size_t tail = off ? netif_tail_len(off) : 0;
    if (tail > size)
        return -LWT_EINVAL;
    if (t->filling)
        return -LWT_EBUSY;
    if (t->tx_pending)
        return -LWT_EAGAIN;
    struct net_slice frame = {t->txb, (uint32_t)t->vnet, (uint32_t)(size - tail)};
    t->busy++;
    t->filling = true;
    int len = fill(&frame, ctx);
    t->filling = false;
    if (leave(t))
        return -LWT_EBADF;
    if (len < 0 || (size_t)len > size - tail || (size_t)len + tail < NETIF_ETH_HDR ||
        (tail && (size_t)len != size - tail)) {
        n->stats.tx_dropped++;
        return len < 0 ? len : -LWT_EINVAL;
    }
    if (t->vnet) {
        int rc = vnet_header(t->txb->data, (size_t)len + tail, off);
        if (rc < 0) {
            n->stats.tx_dropped++;
            return rc;
        }
    }
    /* The tail goes from where it is: one writev, no copy into txb. */
    size_t head = t->vnet + (size_t)len, total = head + tail;
    struct iovec iov[3] = {{t->txb->data, head}};
    int iovcnt = 1;
    for (int i = 0; tail && i < 2; i++)
        if (off->tail_len[i])
            iov[iovcnt++] = (struct iovec){(void *)off->tail[i], off->tail_len[i]};
    int rc = send_frame(t, iov, iovcnt, total);
    if (rc != -LWT_EAGAIN)
        return rc;
    /* fill only borrows txb, so a frame kept for later needs no copy; the
     * tail is only lent for this call, so it joins the frame there. */
    for (int i = 1; i < iovcnt; i++) {
        memcpy(t->txb->data + head, iov[i].iov_base, iov[i].iov_len);
        head += iov[i].iov_len;
    }
    return keep_pending(t, total);
}

static int tap_write(struct netif *n, size_t size, netif_fill_fn fill, void *ctx)
{
    return tap_send(CONTAINER_OF(n, struct unix_tap, netif), size, NULL, fill, ctx);
}

static int tap_write_offload(struct netif *n, size_t size, const struct netif_tx_offload *off, netif_fill_fn fill,
                             void *ctx)
{
    return tap_send(CONTAINER_OF(n, struct unix_tap, netif), size, off, fill, ctx);
}

static lwt_t *tap_wait_writable(struct netif *n)
{
    struct unix_tap *t = CONTAINER_OF(n, struct unix_tap, netif);
    if (t->closed)
        return lwt_fail(LWT_EBADF);
    if (!t->tx_pending)
        return lwt_return(NULL);
    return netif_waiters_wait(&t->waiters);
}

/* ---- Receiving ------------------------------------------------------------ */

/* Whether a received vnet header leaves nothing to do: no partial
 * checksum, no segmentation. */
static bool vnet_plain(const uint8_t *p)
{
    struct virtio_net_hdr h;
    memcpy(&h, p, sizeof h);
    return !(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && h.gso_type == VIRTIO_NET_HDR_GSO_NONE;
}

/* Reads and delivers up to a batch of frames. */
static void receive_batch(struct unix_tap *t)
{
    for (int i = 0; i < UNIX_TAP_RX_BATCH && t->rx; i++) {
        struct rx_buf *b = rx_buf_get(t->pool);
        uint8_t scratch[64];
        ssize_t n;
        do
            n = b ? read(t->fd, b->data, t->pool->cap) : read(t->fd, scratch, sizeof scratch);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            int err = errno;
            if (b)
                net_buf_unref(&b->nb);
            if (err == EAGAIN || err == EWOULDBLOCK)
                return;
            /* The interface was removed, most likely: stop, or the watch
             * would spin on the error. */
            log_error(&tap_log, "%s: read: %s: no longer receiving", t->ifname, lwt_strerror(-err));
            stop_watch(t, &t->rx_watch);
            return;
        }
        /* The kernel reports a frame's full length even when it had to cut
         * it to fit, hence a buffer one byte longer than any frame we take.
         * With offloads off, its vnet header never asks for work; a frame
         * that came anyway could not be used as it is. */
        size_t len = (size_t)n - ((size_t)n < t->vnet ? (size_t)n : t->vnet);
        if (!b || len > t->frame_max || len < NETIF_ETH_HDR || (t->vnet && !vnet_plain(b->data))) {
            t->netif.stats.rx_dropped++;
            if (b)
                net_buf_unref(&b->nb);
            continue;
        }
        t->netif.stats.rx_frames++;
        t->netif.stats.rx_bytes += (uint64_t)len;
        struct net_slice frame = {&b->nb, (uint32_t)t->vnet, (uint32_t)len};
        t->busy++;
        t->rx(t->rx_ctx, frame);
        if (leave(t))
            return;
    }
}

static void on_kick(struct lwt_hook *hook, lwt_t *settled)
{
    (void)settled;
    struct rx_kick *k = CONTAINER_OF(hook, struct rx_kick, hook);
    struct unix_tap *t = k->tap;
    if (!t)
        return;
    lwt_t *p = t->kick_p;
    t->kick = NULL;
    t->kick_p = NULL;
    receive_batch(t);
    /* The deferred queue holds its own reference while this runs. */
    lwt_unref(p);
}

static void on_readable(struct unix_watch *w, unsigned revents)
{
    (void)revents;
    struct unix_tap *t = CONTAINER_OF(w, struct unix_tap, rx_watch);
    if (t->kick)
        return;
    lwt_resolver_t *r;
    struct rx_kick *k;
    lwt_t *p = lwt_task_with(&r, sizeof *k, (void **)&k);
    k->tap = t;
    t->kick = k;
    t->kick_p = p;
    lwt_hook_attach(p, &k->hook, on_kick);
    lwt_wakeup_later(r, NULL);
}

/* Frames queued while nobody listened are not for the new listener. */
static void discard_queued(struct unix_tap *t)
{
    struct rx_buf *b = rx_buf_get(t->pool);
    if (!b)
        return;
    for (int i = 0; i < DISCARD_MAX; i++) {
        ssize_t n = read(t->fd, b->data, t->pool->cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        t->netif.stats.rx_dropped++;
    }
    net_buf_unref(&b->nb);
}

static void tap_listen(struct netif *n, netif_rx_fn rx, void *ctx)
{
    struct unix_tap *t = CONTAINER_OF(n, struct unix_tap, netif);
    if (t->closed)
        return;
    t->rx = rx;
    t->rx_ctx = ctx;
    if (!rx) {
        stop_watch(t, &t->rx_watch);
        return;
    }
    if (t->rx_watch.active)
        return;
    struct unix_engine *e = unix_platform_engine();
    if (!e) {
        log_warn(&tap_log, "%s: listen before the platform runs: no frames until listen is called again", t->ifname);
        return;
    }
    discard_queued(t);
    t->rx_watch.fd = t->fd;
    t->rx_watch.events = UNIX_READABLE;
    t->rx_watch.cb = on_readable;
    int rc = unix_watch_start(e, &t->rx_watch);
    if (rc < 0) {
        log_error(&tap_log, "%s: cannot watch for frames: %s", t->ifname, lwt_strerror(rc));
        return;
    }
    t->engine = e;
}

static const struct netif_ops tap_ops = {
    .write = tap_write,
    .write_offload = tap_write_offload,
    .wait_writable = tap_wait_writable,
    .listen = tap_listen,
};

/* ---- Opening -------------------------------------------------------------- */

static void random_mac(uint8_t mac[6])
{
    if (getrandom(mac, 6, GRND_NONBLOCK) != 6) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^ (uint64_t)getpid() << 20;
        for (int i = 0; i < 6; i++)
            mac[i] = (uint8_t)(x >> (8 * i));
    }
    mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02); /* unicast, locally administered */
}

/* The kernel side should not send frames bigger than we take. Not fatal:
 * oversized frames are then dropped and counted. */
static void set_kernel_mtu(const char *ifname, uint16_t mtu)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1);
    if (s >= 0 && ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu == mtu) {
        close(s);
        return;
    }
    ifr.ifr_mtu = mtu;
    if (s < 0 || ioctl(s, SIOCSIFMTU, &ifr) < 0) {
        int err = -errno;
        log_warn(&tap_log, "%s: cannot set the interface's MTU to %u: %s", ifname, mtu, lwt_strerror(err));
    }
    if (s >= 0)
        close(s);
}

static int open_error(const char *ifname, int err)
{
    const char *name = *ifname ? ifname : "(any name)";
    switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
        log_error(&tap_log, "no tun device (/dev/net/tun: %s): is the tun module loaded?", strerror(err));
        return err == ENOENT ? -LWT_ENOENT : -LWT_ENODEV;
    case EPERM:
    case EACCES:
        log_error(&tap_log, "cannot create tap %s (%s): needs root or CAP_NET_ADMIN", name, strerror(err));
        return -err;
    case EBUSY:
        log_error(&tap_log, "tap %s is in use by another descriptor", name);
        return -LWT_EBUSY;
    case EINVAL:
        log_error(&tap_log, "cannot create tap %s: not a valid name, or an interface that is not a tap has it", name);
        return -LWT_EINVAL;
    default:
        log_error(&tap_log, "cannot create tap %s: %s", name, strerror(err));
        return -err;
    }
}

/* A descriptor attached to tap ifname, with the vnet header in front of
 * every frame and the kernel's offloads toward us off if vnet; ifr gets the
 * name. Returns the descriptor, or -errno; -EPROTONOSUPPORT if the kernel
 * would not take the vnet header (logged: worth trying without). */
static int attach(const char *ifname, bool vnet, struct ifreq *ifr)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    unsigned features = 0;
    if (vnet && (ioctl(fd, TUNGETFEATURES, &features) < 0 || !(features & IFF_VNET_HDR))) {
        log_warn(&tap_log, "the tun driver has no virtio-net header: no offload");
        close(fd);
        return -EPROTONOSUPPORT;
    }
    memset(ifr, 0, sizeof *ifr);
    ifr->ifr_flags = (short)(IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0));
    memcpy(ifr->ifr_name, ifname, strlen(ifname) + 1);
    if (ioctl(fd, TUNSETIFF, ifr) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    int hdr = (int)VNET_HDR;
    if (vnet && (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(fd, TUNSETOFFLOAD, 0ul) < 0)) {
        int err = errno;
        log_warn(&tap_log, "%s: the kernel refused the virtio-net header settings (%s): no offload", ifr->ifr_name,
                 strerror(err));
        close(fd);
        return -EPROTONOSUPPORT;
    }
    return fd;
}

int unix_tap_open(const char *ifname, const uint8_t mac[6], uint16_t mtu, struct unix_tap **out)
{
    *out = NULL;
    if (!ifname)
        ifname = "";
    size_t namelen = strlen(ifname);
    if (namelen >= IFNAMSIZ) {
        log_error(&tap_log, "tap name \"%s\" is too long: at most %d characters", ifname, IFNAMSIZ - 1);
        return -LWT_EINVAL;
    }
    if (mtu == 0)
        mtu = 1500;
    if (mtu < 68) {
        log_error(&tap_log, "tap %s: MTU %u is below IPv4's minimum of 68", ifname, mtu);
        return -LWT_EINVAL;
    }

    struct ifreq ifr;
    int fd = attach(ifname, true, &ifr);
    bool vnet = fd >= 0;
    if (fd == -EPROTONOSUPPORT)
        fd = attach(ifname, false, &ifr);
    if (fd < 0)
        return open_error(ifname, -fd);

    size_t frame_max = (size_t)mtu + NETIF_ETH_HDR;
    size_t tx_max = vnet ? VNET_HDR + UNIX_TAP_TSO_MAX + NETIF_ETH_HDR : frame_max;
    struct unix_tap *t = calloc(1, sizeof *t);
    struct rx_pool *pool = calloc(1, sizeof *pool);
    struct net_buf *txb = net_buf_new(tx_max);
    if (!t || !pool || !txb) {
        free(t);
        free(pool);
        net_buf_unref(txb);
        close(fd);
        log_error(&tap_log, "tap %s: out of memory", ifr.ifr_name);
        return -LWT_ENOMEM;
    }
    t->fd = fd;
    t->frame_max = frame_max;
    t->vnet = vnet ? VNET_HDR : 0;
    t->txb = txb;
    memcpy(t->ifname, ifr.ifr_name, IFNAMSIZ);
    t->ifname[IFNAMSIZ - 1] = '\0';
    pool->cap = t->vnet + t->frame_max + 1;
    t->pool = pool;
    t->rx_watch.fd = t->tx_watch.fd = fd;
    t->netif.ops = &tap_ops;
    if (mac)
        memcpy(t->netif.mac, mac, 6);
    else
        random_mac(t->netif.mac);
    t->netif.mtu = mtu;
    t->netif.tso_max = vnet ? UNIX_TAP_TSO_MAX : 0;
    t->netif.tx_csum = vnet;
    t->netif.name = t->ifname;
    set_kernel_mtu(t->ifname, mtu);
    const uint8_t *m = t->netif.mac;
    log_info(&tap_log, "%s: open, MTU %u, our MAC %02x:%02x:%02x:%02x:%02x:%02x, %s", t->ifname, mtu, m[0], m[1], m[2],
             m[3], m[4], m[5], vnet ? "TSO and checksum offload" : "no offload");
    *out = t;
    return 0;
}

struct netif *unix_tap_netif(struct unix_tap *t)
{
    return &t->netif;
}

const char *unix_tap_ifname(const struct unix_tap *t)
{
    return t->ifname;
}
