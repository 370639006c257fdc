/* See wire_icmp.h. */
#include "wire_icmp.h"

#include "lwt_errno.h"
#include "net_csum.h"

int icmp_parse(const struct net_slice *msg, struct icmp_hdr *h)
{
    struct net_rd r = net_rd_of(msg);
    h->type = net_u8(&r, ICMP_OFF_TYPE);
    h->code = net_u8(&r, ICMP_OFF_CODE);
    h->rest = net_be32(&r, ICMP_OFF_ID);
    if (r.bad || net_csum_fold(net_csum_add(0, r.p, r.len)) != 0)
        return -LWT_EBADMSG;
    return 0;
}
