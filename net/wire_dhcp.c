/* See wire_dhcp.h. */
#include "wire_dhcp.h"

#include <string.h>

#include "lwt_errno.h"

static bool is_reply_type(int type)
{
    return type == DHCP_OFFER || type == DHCP_ACK || type == DHCP_NAK;
}

/* One option of code `code` and length `len` whose value starts at `off`.
 * Returns false when its length is wrong for the code. */
static bool parse_option(struct net_rd *r, size_t off, uint8_t code, uint8_t len, struct dhcp_msg *m)
{
    switch (code) {
    case DHCP_OPT_MSG_TYPE:
        if (len != 1)
            return false;
        m->type = (enum dhcp_type)net_u8(r, off);
        return true;
    case DHCP_OPT_NETMASK:
    case DHCP_OPT_REQUESTED_IP:
    case DHCP_OPT_LEASE_TIME:
    case DHCP_OPT_SERVER_ID:
    case DHCP_OPT_T1:
    case DHCP_OPT_T2: {
        if (len != 4)
            return false;
        uint32_t v = net_be32(r, off);
        switch (code) {
        case DHCP_OPT_NETMASK:
            m->netmask = v;
            m->has |= DHCP_HAS_NETMASK;
            break;
        case DHCP_OPT_REQUESTED_IP:
            m->requested_ip = v;
            m->has |= DHCP_HAS_REQUESTED_IP;
            break;
        case DHCP_OPT_LEASE_TIME:
            m->lease_s = v;
            m->has |= DHCP_HAS_LEASE_TIME;
            break;
        case DHCP_OPT_SERVER_ID:
            m->server_id = v;
            m->has |= DHCP_HAS_SERVER_ID;
            break;
        case DHCP_OPT_T1:
            m->t1_s = v;
            m->has |= DHCP_HAS_T1;
            break;
        default:
            m->t2_s = v;
            m->has |= DHCP_HAS_T2;
            break;
        }
        return true;
    }
    case DHCP_OPT_ROUTER:
    case DHCP_OPT_DNS:
        /* A list of addresses: the first is the one we use. */
        if (len == 0 || len % 4 != 0)
            return false;
        if (code == DHCP_OPT_ROUTER) {
            m->router = net_be32(r, off);
            m->has |= DHCP_HAS_ROUTER;
        } else {
            m->dns = net_be32(r, off);
            m->has |= DHCP_HAS_DNS;
        }
        return true;
    case DHCP_OPT_PARAM_LIST: {
        if (len == 0)
            return false;
        size_t n = len < DHCP_PARAM_LIST_MAX ? len : DHCP_PARAM_LIST_MAX;
        net_rd_bytes(r, off, m->param_list, n);
        m->param_list_len = (uint8_t)n;
        m->has |= DHCP_HAS_PARAM_LIST;
        return true;
    }
    case DHCP_OPT_CLIENT_ID: {
        if (len < 2) /* a type and at least one byte (RFC 2132 §9.14) */
            return false;
        size_t n = len < DHCP_CLIENT_ID_MAX ? len : DHCP_CLIENT_ID_MAX;
        net_rd_bytes(r, off, m->client_id, n);
        m->client_id_len = (uint8_t)n;
        m->has |= DHCP_HAS_CLIENT_ID;
        return true;
    }
    default:
        return true; /* not ours: skipped */
    }
}

int dhcp_parse(const struct net_slice *msg, struct dhcp_msg *out)
{
    struct net_rd r = net_rd_of(msg);
    struct dhcp_msg *m = out;
    memset(m, 0, sizeof *m);
    m->op = net_u8(&r, DHCP_OFF_OP);
    uint8_t htype = net_u8(&r, DHCP_OFF_HTYPE);
    uint8_t hlen = net_u8(&r, DHCP_OFF_HLEN);
    m->xid = net_be32(&r, DHCP_OFF_XID);
    m->secs = net_be16(&r, DHCP_OFF_SECS);
    m->flags = net_be16(&r, DHCP_OFF_FLAGS);
    m->ciaddr = net_be32(&r, DHCP_OFF_CIADDR);
    m->yiaddr = net_be32(&r, DHCP_OFF_YIADDR);
    m->siaddr = net_be32(&r, DHCP_OFF_SIADDR);
    m->giaddr = net_be32(&r, DHCP_OFF_GIADDR);
    net_rd_bytes(&r, DHCP_OFF_CHADDR, m->chaddr, sizeof m->chaddr);
    uint32_t cookie = net_be32(&r, DHCP_OFF_COOKIE);
    if (r.bad || (m->op != DHCP_OP_REQUEST && m->op != DHCP_OP_REPLY) || htype != DHCP_HTYPE_ETH ||
        hlen != DHCP_HLEN_ETH || cookie != DHCP_COOKIE)
        return -LWT_EBADMSG;

    size_t off = DHCP_OFF_OPTIONS;
    for (;;) {
        uint8_t code = net_u8(&r, off);
        if (r.bad)
            return -LWT_EBADMSG; /* no end option */
        if (code == DHCP_OPT_END)
            break;
        if (code == DHCP_OPT_PAD) {
            off++;
            continue;
        }
        uint8_t len = net_u8(&r, off + 1);
        if (!net_rd_has(&r, off + 2, len) || !parse_option(&r, off + 2, code, len, m))
            return -LWT_EBADMSG;
        off += 2 + (size_t)len;
    }
    if (m->type < DHCP_DISCOVER || m->type > DHCP_INFORM)
        return -LWT_EBADMSG; /* missing (0) or unknown */
    if (is_reply_type(m->type) != (m->op == DHCP_OP_REPLY))
        return -LWT_EBADMSG;
    return 0;
}

/* Options are written at *off, advancing it; w marks overflow. */
static void put_opt32(struct net_wr *w, size_t *off, uint8_t code, uint32_t v)
{
    net_put_u8(w, *off, code);
    net_put_u8(w, *off + 1, 4);
    net_put_be32(w, *off + 2, v);
    *off += 6;
}

static void put_opt_bytes(struct net_wr *w, size_t *off, uint8_t code, const uint8_t *v, uint8_t len)
{
    net_put_u8(w, *off, code);
    net_put_u8(w, *off + 1, len);
    net_put_bytes(w, *off + 2, v, len);
    *off += 2 + (size_t)len;
}

int dhcp_build(const struct dhcp_msg *m, uint8_t *buf, size_t cap)
{
    struct net_wr w = net_wr_mem(buf, cap);
    size_t fixed = DHCP_OFF_OPTIONS < cap ? DHCP_OFF_OPTIONS : cap;
    memset(buf, 0, fixed); /* sname, file and the unused chaddr bytes */
    net_put_u8(&w, DHCP_OFF_OP, m->op);
    net_put_u8(&w, DHCP_OFF_HTYPE, DHCP_HTYPE_ETH);
    net_put_u8(&w, DHCP_OFF_HLEN, DHCP_HLEN_ETH);
    net_put_u8(&w, DHCP_OFF_HOPS, 0);
    net_put_be32(&w, DHCP_OFF_XID, m->xid);
    net_put_be16(&w, DHCP_OFF_SECS, m->secs);
    net_put_be16(&w, DHCP_OFF_FLAGS, m->flags);
    net_put_be32(&w, DHCP_OFF_CIADDR, m->ciaddr);
    net_put_be32(&w, DHCP_OFF_YIADDR, m->yiaddr);
    net_put_be32(&w, DHCP_OFF_SIADDR, m->siaddr);
    net_put_be32(&w, DHCP_OFF_GIADDR, m->giaddr);
    net_put_bytes(&w, DHCP_OFF_CHADDR, m->chaddr, sizeof m->chaddr);
    net_put_be32(&w, DHCP_OFF_COOKIE, DHCP_COOKIE);

    size_t off = DHCP_OFF_OPTIONS;
    uint8_t type = (uint8_t)m->type;
    put_opt_bytes(&w, &off, DHCP_OPT_MSG_TYPE, &type, 1);
    if (m->has & DHCP_HAS_SERVER_ID)
        put_opt32(&w, &off, DHCP_OPT_SERVER_ID, m->server_id);
    if (m->has & DHCP_HAS_REQUESTED_IP)
        put_opt32(&w, &off, DHCP_OPT_REQUESTED_IP, m->requested_ip);
    if (m->has & DHCP_HAS_LEASE_TIME)
        put_opt32(&w, &off, DHCP_OPT_LEASE_TIME, m->lease_s);
    if (m->has & DHCP_HAS_T1)
        put_opt32(&w, &off, DHCP_OPT_T1, m->t1_s);
    if (m->has & DHCP_HAS_T2)
        put_opt32(&w, &off, DHCP_OPT_T2, m->t2_s);
    if (m->has & DHCP_HAS_NETMASK)
        put_opt32(&w, &off, DHCP_OPT_NETMASK, m->netmask);
    if (m->has & DHCP_HAS_ROUTER)
        put_opt32(&w, &off, DHCP_OPT_ROUTER, m->router);
    if (m->has & DHCP_HAS_DNS)
        put_opt32(&w, &off, DHCP_OPT_DNS, m->dns);
    if ((m->has & DHCP_HAS_CLIENT_ID) && m->client_id_len > 0)
        put_opt_bytes(&w, &off, DHCP_OPT_CLIENT_ID, m->client_id,
                      m->client_id_len < DHCP_CLIENT_ID_MAX ? m->client_id_len : DHCP_CLIENT_ID_MAX);
    if ((m->has & DHCP_HAS_PARAM_LIST) && m->param_list_len > 0)
        put_opt_bytes(&w, &off, DHCP_OPT_PARAM_LIST, m->param_list,
                      m->param_list_len < DHCP_PARAM_LIST_MAX ? m->param_list_len : DHCP_PARAM_LIST_MAX);
    net_put_u8(&w, off, DHCP_OPT_END);
    off++;
    if (w.bad)
        return -LWT_EMSGSIZE;
    if (off < DHCP_MIN_LEN) {
        if (!net_wr_has(&w, off, DHCP_MIN_LEN - off))
            return -LWT_EMSGSIZE;
        memset(buf + off, 0, DHCP_MIN_LEN - off);
        off = DHCP_MIN_LEN;
    }
    return (int)off;
}

void dhcp_msg_init(struct dhcp_msg *m, enum dhcp_type type, uint32_t xid, const uint8_t mac[6])
{
    memset(m, 0, sizeof *m);
    m->op = is_reply_type(type) ? DHCP_OP_REPLY : DHCP_OP_REQUEST;
    m->xid = xid;
    m->type = type;
    memcpy(m->chaddr, mac, sizeof m->chaddr);
}

const char *dhcp_type_name(int type)
{
    static const char *const names[] = {"?",   "DISCOVER", "OFFER",   "REQUEST", "DECLINE",
                                        "ACK", "NAK",      "RELEASE", "INFORM"};
    return type >= 0 && type < (int)(sizeof names / sizeof names[0]) ? names[type] : "?";
}
