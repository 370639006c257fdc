/* A writer for the classic libpcap capture format (LINKTYPE_ETHERNET,
 * nanosecond timestamps), so that a test's frames can be read back by
 * tshark or Wireshark. net/ does no file I/O: bytes go to a sink that the
 * caller provides (a FILE * on Unix, a memory buffer, a console).
 *
 * The file is little-endian with the nanosecond magic 0xa1b23c4d, so
 * virtual-clock timestamps are exact; readers detect the byte order from
 * the magic.
 *
 *     struct net_pcap cap = {.write = to_file, .ctx = f};
 *     net_pcap_start(&cap);
 *     net_pcap_frame(&cap, sched_now(), &frame);
 */
#ifndef TESSERA_NET_PCAP_H
#define TESSERA_NET_PCAP_H

#include <stddef.h>
#include <stdint.h>

#include "net_buf.h"

#define NET_PCAP_MAGIC_NS       0xa1b23c4du
#define NET_PCAP_LINKTYPE_ETH   1u
#define NET_PCAP_SNAPLEN_MAX    262144u /* what tcpdump uses */
#define NET_PCAP_FILE_HDR_LEN   24u
#define NET_PCAP_RECORD_HDR_LEN 16u

/* Writes all len bytes; returns 0 (or any non-negative value) on success,
 * a negative LWT_E* code on failure. */
typedef int (*net_pcap_write_fn)(void *ctx, const void *bytes, size_t len);

struct net_pcap {
    net_pcap_write_fn write; /* rw: set before net_pcap_start */
    void *ctx;               /* rw: passed to write */
    uint32_t snaplen;        /* rw: bytes kept per frame; 0: NET_PCAP_SNAPLEN_MAX */
    int error;               /* ro: the sink's first error, latched */
    uint64_t frames;         /* ro: records written */
};

/* Writes the file header (clearing any latched error). Returns 0, the
 * sink's error, or -LWT_EINVAL without a sink. */
int net_pcap_start(struct net_pcap *p);
/* Writes one record: the frame's first snaplen bytes and its original
 * length, stamped time_ns (any epoch; the virtual clock's is fine). The
 * slice is borrowed. Returns 0, or the latched error without writing. */
int net_pcap_frame(struct net_pcap *p, uint64_t time_ns, const struct net_slice *frame);

#endif
