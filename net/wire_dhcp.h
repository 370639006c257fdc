/* The BOOTP/DHCP message (RFC 2131 §2, options RFC 2132): offsets of the
 * fixed fields, the magic cookie, the options this stack uses, a pure
 * parser and a builder. Addresses are host-order integers.
 *
 * One struct dhcp_msg serves both directions: dhcp_parse fills it from a
 * received message, dhcp_build writes one from it, so a client and a test
 * server share the code. Option overload (52) is not supported: sname and
 * file are never read as options.
 */
#ifndef TESSERA_WIRE_DHCP_H
#define TESSERA_WIRE_DHCP_H

#include <stddef.h>
#include <stdint.h>

#include "net_buf.h"

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68

/* Fixed fields. */
#define DHCP_OFF_OP      0
#define DHCP_OFF_HTYPE   1
#define DHCP_OFF_HLEN    2
#define DHCP_OFF_HOPS    3
#define DHCP_OFF_XID     4
#define DHCP_OFF_SECS    8
#define DHCP_OFF_FLAGS   10
#define DHCP_OFF_CIADDR  12
#define DHCP_OFF_YIADDR  16
#define DHCP_OFF_SIADDR  20
#define DHCP_OFF_GIADDR  24
#define DHCP_OFF_CHADDR  28  /* 16 bytes */
#define DHCP_OFF_SNAME   44  /* 64 bytes */
#define DHCP_OFF_FILE    108 /* 128 bytes */
#define DHCP_OFF_COOKIE  236
#define DHCP_OFF_OPTIONS 240

#define DHCP_CHADDR_LEN 16
#define DHCP_COOKIE     0x63825363u
/* Senders pad to the BOOTP size (RFC 1542 §3.1.1: some relays drop less). */
#define DHCP_MIN_LEN 300
/* What every host must accept (RFC 2131 §2: 576-byte IP datagrams). */
#define DHCP_MAX_LEN 548

#define DHCP_OP_REQUEST     1 /* BOOTREQUEST: client to server */
#define DHCP_OP_REPLY       2 /* BOOTREPLY */
#define DHCP_HTYPE_ETH      1
#define DHCP_HLEN_ETH       6
#define DHCP_FLAG_BROADCAST 0x8000

/* Message types (option 53). */
enum dhcp_type {
    DHCP_DISCOVER = 1,
    DHCP_OFFER = 2,
    DHCP_REQUEST = 3,
    DHCP_DECLINE = 4,
    DHCP_ACK = 5,
    DHCP_NAK = 6,
    DHCP_RELEASE = 7,
    DHCP_INFORM = 8,
};

/* Option codes. */
#define DHCP_OPT_PAD          0
#define DHCP_OPT_NETMASK      1
#define DHCP_OPT_ROUTER       3
#define DHCP_OPT_DNS          6
#define DHCP_OPT_REQUESTED_IP 50
#define DHCP_OPT_LEASE_TIME   51
#define DHCP_OPT_MSG_TYPE     53
#define DHCP_OPT_SERVER_ID    54
#define DHCP_OPT_PARAM_LIST   55
#define DHCP_OPT_T1           58
#define DHCP_OPT_T2           59
#define DHCP_OPT_CLIENT_ID    61
#define DHCP_OPT_END          255

/* Which options a struct dhcp_msg carries (its `has` bits). */
#define DHCP_HAS_NETMASK      (1u << 0)
#define DHCP_HAS_ROUTER       (1u << 1)
#define DHCP_HAS_DNS          (1u << 2)
#define DHCP_HAS_REQUESTED_IP (1u << 3)
#define DHCP_HAS_LEASE_TIME   (1u << 4)
#define DHCP_HAS_SERVER_ID    (1u << 5)
#define DHCP_HAS_PARAM_LIST   (1u << 6)
#define DHCP_HAS_T1           (1u << 7)
#define DHCP_HAS_T2           (1u << 8)
#define DHCP_HAS_CLIENT_ID    (1u << 9)

/* Longer lists are kept up to these bounds (the rest is ignored). */
#define DHCP_PARAM_LIST_MAX 32
#define DHCP_CLIENT_ID_MAX  32

/* Lease times in seconds; this one means "forever" (RFC 2132 §9.2). */
#define DHCP_LEASE_INFINITE 0xffffffffu

struct dhcp_msg {
    uint8_t op; /* DHCP_OP_* */
    uint32_t xid;
    uint16_t secs;
    uint16_t flags; /* DHCP_FLAG_BROADCAST */
    uint32_t ciaddr, yiaddr, siaddr, giaddr;
    uint8_t chaddr[6];
    enum dhcp_type type; /* option 53: always there */
    uint32_t has;        /* DHCP_HAS_* bits for the options below */
    uint32_t netmask;
    uint32_t router; /* the first one listed */
    uint32_t dns;    /* the first one listed */
    uint32_t requested_ip;
    uint32_t lease_s, t1_s, t2_s;
    uint32_t server_id;
    uint8_t param_list_len;
    uint8_t param_list[DHCP_PARAM_LIST_MAX];
    uint8_t client_id_len;
    uint8_t client_id[DHCP_CLIENT_ID_MAX];
};

/* Parses a DHCP message (the UDP payload): 0, or -LWT_EBADMSG when it is
 * truncated or inconsistent: shorter than the fixed part, an op that is
 * neither request nor reply, hardware type not Ethernet or length not 6,
 * no magic cookie, an option running past the end, no end option, a known
 * option of the wrong length, no message type or an unknown one, or a type
 * that does not go with the op (OFFER, ACK and NAK are replies; the others
 * requests). Repeated options: the last one wins. */
int dhcp_parse(const struct net_slice *msg, struct dhcp_msg *out);

/* Writes m into buf (cap bytes, DHCP_MIN_LEN at least to be useful): the
 * fixed fields, the cookie, option 53 first, then each option m->has
 * names, the end option, and zero padding to DHCP_MIN_LEN. Returns the
 * length, or -LWT_EMSGSIZE if it does not fit. */
int dhcp_build(const struct dhcp_msg *m, uint8_t *buf, size_t cap);

/* A message of this type from a client with this MAC and xid: op, htype,
 * hlen, xid, chaddr and type set, everything else zero. */
void dhcp_msg_init(struct dhcp_msg *m, enum dhcp_type type, uint32_t xid, const uint8_t mac[6]);

/* "DISCOVER", "OFFER", ... or "?". */
const char *dhcp_type_name(int type);

#endif
