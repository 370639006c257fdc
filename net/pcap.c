/* See pcap.h. Headers are built in local arrays and written little-endian
 * byte by byte, whatever the host's order. */
#include "pcap.h"

#include "lwt_errno.h"

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* One sink call; a failure is latched so that no later record lands after
 * a partial one. */
static int sink(struct net_pcap *p, const void *bytes, size_t len)
{
    if (len == 0)
        return 0;
    int rc = p->write(p->ctx, bytes, len);
    if (rc < 0) {
        p->error = rc;
        return rc;
    }
    return 0;
}

int net_pcap_start(struct net_pcap *p)
{
    if (!p->write)
        return -LWT_EINVAL;
    if (p->snaplen == 0 || p->snaplen > NET_PCAP_SNAPLEN_MAX)
        p->snaplen = NET_PCAP_SNAPLEN_MAX;
    p->error = 0;
    p->frames = 0;
    uint8_t h[NET_PCAP_FILE_HDR_LEN];
    put_le32(h, NET_PCAP_MAGIC_NS);
    put_le16(h + 4, 2); /* version 2.4 */
    put_le16(h + 6, 4);
    put_le32(h + 8, 0);  /* thiszone: timestamps are UTC (or virtual) */
    put_le32(h + 12, 0); /* sigfigs */
    put_le32(h + 16, p->snaplen);
    put_le32(h + 20, NET_PCAP_LINKTYPE_ETH);
    return sink(p, h, sizeof h);
}

int net_pcap_frame(struct net_pcap *p, uint64_t time_ns, const struct net_slice *frame)
{
    if (p->error)
        return p->error;
    if (!p->write)
        return -LWT_EINVAL;
    uint32_t len = frame->len;
    uint32_t kept = len < p->snaplen ? len : p->snaplen;
    uint8_t h[NET_PCAP_RECORD_HDR_LEN];
    put_le32(h, (uint32_t)(time_ns / 1000000000u));
    put_le32(h + 4, (uint32_t)(time_ns % 1000000000u));
    put_le32(h + 8, kept);
    put_le32(h + 12, len);
    int rc = sink(p, h, sizeof h);
    if (rc == 0)
        rc = sink(p, net_slice_data(frame), kept);
    if (rc == 0)
        p->frames++;
    return rc;
}
