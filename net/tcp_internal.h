/* Private to net/: TCP's control blocks and the functions its files share
 * (tcp_input.c, tcp_output.c, tcp_timer.c, tcp_api.c, tcp_ring.c,
 * tcp_isn.c). */
#ifndef TESSERA_NET_TCP_INTERNAL_H
#define TESSERA_NET_TCP_INTERNAL_H

#include "net_timer.h"
#include "scheduler.h"
#include "stack_internal.h"
#include "tcp.h"
#include "wire_tcp.h"

extern struct log_source tcp__log;

enum tcp_state {
    TCP_CLOSED,
    TCP_LISTEN, /* listeners are struct tcp_listener, never a pcb */
    TCP_SYN_SENT,
    TCP_SYN_RECEIVED,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT_1,
    TCP_FIN_WAIT_2,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_LAST_ACK,
    TCP_TIME_WAIT,
};
const char *tcp__state_name(int state);

/* A byte ring (tcp_ring.c). */
struct tcp_ring {
    uint8_t *data;
    uint32_t cap, head, len;
};
int tcp_ring_init(struct tcp_ring *r, uint32_t cap);
void tcp_ring_free(struct tcp_ring *r);
static inline uint32_t tcp_ring_space(const struct tcp_ring *r)
{
    return r->cap - r->len;
}
/* Appends up to len bytes; returns how many fit. */
uint32_t tcp_ring_write(struct tcp_ring *r, const void *src, uint32_t len);
/* Copies len bytes at offset off (from head) into dst (len <= r->len - off). */
void tcp_ring_peek(const struct tcp_ring *r, uint32_t off, void *dst, uint32_t len);
/* The (at most two) contiguous pieces of [off, off + len). */
void tcp_ring_pieces(const struct tcp_ring *r, uint32_t off, uint32_t len, const uint8_t *p[2], uint32_t n[2]);
void tcp_ring_drop(struct tcp_ring *r, uint32_t len);
/* Writes len bytes at offset off past the end of the data (for segments
 * that arrive out of order); off + len must fit in the ring. */
void tcp_ring_put_at(struct tcp_ring *r, uint32_t off, const void *src, uint32_t len);

/* A segment that arrived ahead of rcv_nxt, waiting for the gap to fill. */
struct tcp_ooo {
    struct tcp_ooo *next;
    uint32_t seq, len;
    uint32_t stamp; /* when data last arrived in it: SACK blocks go newest first */
    bool fin;
};

#define TCP_OOO_MAX        64 /* segments held per connection */
#define TCP_SACK_SCORE_MAX 16 /* SACKed ranges remembered by the sender */

/* An application's pending read or write, inside its promise's task so that
 * the hook outlives the connection if need be (the udp.c pattern). */
struct tcp_wait {
    struct lwt_hook hook;
    struct tcp_pcb *pcb; /* NULL once the pcb has let go */
    int kind;            /* enum tcp_wait_kind */
    uint8_t *buf;
    uint32_t len, done;
};
enum tcp_wait_kind { TCP_WAIT_READ, TCP_WAIT_WRITE, TCP_WAIT_CONNECT };

struct tcp_pcb {
    struct net_stack *stack;
    struct tcp_pcb *next, *prev;   /* the stack's list */
    struct tcp_pcb *hnext;         /* hash chain */
    struct tcp_listener *listener; /* while half-open or waiting to be accepted */
    struct tcp_pcb *qnext;         /* in the listener's accept queue */
    int state;                     /* enum tcp_state */
    bool has_handle;               /* the application holds it */
    bool in_accept_queue;
    uint32_t local_addr, remote_addr;
    uint16_t local_port, remote_port;
    struct tcp_options opts;

    /* Send side. sndbuf holds bytes from snd_una on, sent or not. */
    uint32_t iss, snd_una, snd_nxt, snd_max;
    uint32_t snd_wnd, max_snd_wnd, snd_wl1, snd_wl2;
    uint16_t mss; /* the most we put in one segment */
    uint8_t snd_wscale, rcv_wscale;
    bool ws_ok, ts_ok, sack_ok;
    bool fin_queued; /* shutdown asked for: FIN after the data */
    bool fin_sent;   /* FIN occupies snd_max - 1 */
    struct tcp_ring sndbuf;

    /* Receive side. rcvbuf holds in-order bytes not yet read; bytes that
     * arrived out of order sit past its end, described by ooo. */
    uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge we advertised */
    bool fin_received;
    struct tcp_ring rcvbuf;
    struct tcp_ooo *ooo;
    uint32_t ooo_stamps; /* a counter for tcp_ooo.stamp */
    uint32_t ooo_count;
    uint32_t ts_recent, last_ack_sent;
    unsigned segs_since_ack; /* full-sized segments not yet acknowledged */
    bool ack_now;            /* send an ACK at the end of this input */
    bool force_send;         /* the persist timer fired: send into a small window */

    /* Congestion control (RFC 5681, 6582) and SACK recovery (RFC 6675). */
    uint32_t cwnd, ssthresh, recover;
    uint32_t bytes_acked; /* congestion avoidance: acked since cwnd last grew */
    bool in_recovery;
    unsigned dupacks;
    uint32_t rexmit_next;     /* recovery: next hole to retransmit from */
    uint32_t rexmit_round_hi; /* snd_max when this round of repairs began */
    struct tcp_sack_block score[TCP_SACK_SCORE_MAX];
    unsigned nscore;
    /* Tail loss probes (RFC 8985 §7): the episode's end, and whether the
     * probe sent data again and the peer said it had it (a DSACK). */
    uint32_t tlp_high_seq;
    /* Undoing a recovery that reordering started (RFC 3522, Eifel): the
     * window before it, when it began (timestamp clock) and how many
     * segments it sent again; and how many quarter RTTs a hole may wait
     * before it counts as lost (grows with each undo, as in RFC 8985). */
    uint32_t prior_cwnd, prior_ssthresh, recovery_ts;
    unsigned recovery_resent;
    unsigned reo_quarters;
    bool tlp_active, tlp_resent, tlp_dsack;

    /* Round-trip time (RFC 6298), in ns. */
    uint64_t srtt, rttvar, rto;
    bool rtt_timing;
    uint32_t rtt_seq;
    uint64_t rtt_start;
    unsigned backoff;         /* retransmissions of the same data */
    unsigned probes;          /* persist or keep-alive probes since the window or ACK moved */
    unsigned unanswered;      /* persist probes in a row that drew no segment at all */
    bool probe_answered;      /* a segment arrived since the last probe */
    uint64_t last_recv;       /* for keep-alive */
    uint64_t challenge_since; /* challenge ACKs sent since then (RFC 5961 §7) */
    unsigned challenges;

    /* Timers: deadlines (0: off) and one scheduler timer for the earliest. */
    uint64_t rto_at, delack_at, persist_at, keep_at, wait_at;
    uint64_t reo_at; /* a hole under SACKed data: lost once this passes */
    uint64_t tlp_at; /* probe the tail before the RTO */
    struct net_timer timer;

    /* The application's pending operations. */
    lwt_resolver_t *reader, *writer, *connecter;
    struct tcp_wait *read_wait, *write_wait, *connect_wait;
    int error; /* the connection's fatal error, once it has one */
};

struct tcp_listener {
    struct net_stack *stack;
    struct tcp_listener *next;
    uint16_t port;
    int backlog;
    struct tcp_options opts;
    unsigned syn_queued; /* half-open pcbs pointing at us */
    struct tcp_pcb *accept_head, **accept_tail;
    unsigned accept_len;
    lwt_resolver_t *acceptor;
    struct tcp_wait *accept_wait;
};

#define TCP_HASH_SIZE 1024

struct tcp_state_all {
    struct tcp_pcb *pcbs;
    struct tcp_pcb *hash[TCP_HASH_SIZE];
    struct tcp_listener *listeners;
    struct tcp_stats stats;
    size_t memory;
    size_t memory_limit; /* 0: none */
    uint8_t secret[16];  /* ISN key (RFC 6528) */
    uint16_t next_port;
};

/* Times. */
#define TCP_MSL_NS          (30 * SCHED_NS_PER_S)
#define TCP_TIME_WAIT_NS    (2 * TCP_MSL_NS)
#define TCP_RTO_INIT_NS     (1 * SCHED_NS_PER_S)
#define TCP_RTO_MIN_NS      (200 * SCHED_NS_PER_MS)
#define TCP_RTO_MAX_NS      (60 * SCHED_NS_PER_S)
#define TCP_DELACK_NS       (40 * SCHED_NS_PER_MS)
#define TCP_PTO_MIN_NS      (10 * SCHED_NS_PER_MS)  /* the shortest tail loss probe timeout */
#define TCP_WORST_DELACK_NS (200 * SCHED_NS_PER_MS) /* the longest a peer may delay an ACK (RFC 8985 WCDelAckT) */
#define TCP_FIN_WAIT_2_NS   (60 * SCHED_NS_PER_S)   /* an orphan's wait for the peer's FIN */
#define TCP_SYN_RETRIES     6
#define TCP_DATA_RETRIES    12
#define TCP_DEFAULT_MSS     536

/* tcp_api.c */
struct tcp_state_all *tcp__all(struct net_stack *s);
void tcp__input(struct net_stack *s, const struct ip4_hdr *ip, struct net_slice *seg);
void tcp__destroy(struct net_stack *s);
struct tcp_pcb *tcp__pcb_new(struct net_stack *s, const struct tcp_options *opts);
void tcp__pcb_hash(struct tcp_pcb *p);
struct tcp_pcb *tcp__pcb_find(struct net_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport);
struct tcp_listener *tcp__listener_find(struct net_stack *s, uint16_t port);
/* Ends the connection with err (0: a normal close): fails the application's
 * pending operations and, if it has no handle, frees the pcb. */
void tcp__pcb_done(struct tcp_pcb *p, int err);
/* The connection reached ESTABLISHED (wakes connect, or queues for accept).
 * False if it was refused instead (no memory, a full accept queue): the
 * pcb is gone then. */
bool tcp__established(struct tcp_pcb *p);
/* Data or FIN arrived, or send-buffer room opened: serve the waiters. */
void tcp__wake_reader(struct tcp_pcb *p);
void tcp__wake_writer(struct tcp_pcb *p);
void tcp__enter_time_wait(struct tcp_pcb *p);
uint32_t tcp__isn(struct net_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport);

/* tcp_output.c */
/* Sends whatever the windows, Nagle and the state allow. */
void tcp__output(struct tcp_pcb *p);
void tcp__send_ack(struct tcp_pcb *p);
void tcp__send_syn(struct tcp_pcb *p); /* SYN or SYN-ACK by state */
void tcp__send_rst_for(struct net_stack *s, const struct ip4_hdr *ip, const struct tcp_hdr *h, uint32_t seg_len);
void tcp__send_rst(struct tcp_pcb *p);
/* A segment below snd_una with no data: the peer must answer with an ACK
 * carrying its window (zero-window probes, keep-alive). */
void tcp__send_probe(struct tcp_pcb *p);
/* A tail loss probe (RFC 8985 §7.3); false if there was nothing to send. */
bool tcp__send_tlp(struct tcp_pcb *p);
/* The persist timer fired: probe a closed window, or send into a small one. */
void tcp__persist_probe(struct tcp_pcb *p);
/* Sends one segment of sndbuf bytes [seq, seq + len) with flags. */
void tcp__send_data(struct tcp_pcb *p, uint32_t seq, uint32_t len, uint8_t flags);
uint32_t tcp__rcv_wnd(const struct tcp_pcb *p);
/* The most payload the next segment may carry: mss less its SACK option. */
uint32_t tcp__seg_max(const struct tcp_pcb *p);
uint32_t tcp__now_ms(void);

/* tcp_sack.c: the sender's scoreboard. */
/* Merges the segment's SACK blocks (those above snd_una) in. */
void tcp__sack_update(struct tcp_pcb *p, const struct tcp_hdr *h);
/* Forgets what snd_una has passed. */
void tcp__sack_trim(struct tcp_pcb *p);
/* The end of the SACKed range holding seq, or seq if none does. */
uint32_t tcp__sack_skip(const struct tcp_pcb *p, uint32_t seq);
/* The highest SACKed sequence number, snd_una if none. */
uint32_t tcp__sack_highest(const struct tcp_pcb *p);
/* SACKed bytes within [a, b). */
uint32_t tcp__sacked_in(const struct tcp_pcb *p, uint32_t a, uint32_t b);
/* Bytes in flight (RFC 6675's pipe). */
uint32_t tcp__pipe(const struct tcp_pcb *p);
/* During recovery: the next hole from rexmit_next on below the highest
 * SACKed byte, and how much of it fits in a segment. */
bool tcp__sack_next_hole(const struct tcp_pcb *p, uint32_t *seq, uint32_t *len);
/* During recovery: true (and the repairs start over from snd_una) if the
 * scoreboard shows that a hole sent again was lost again. */
bool tcp__sack_repair_lost(struct tcp_pcb *p);

/* tcp_timer.c */
void tcp__timer_update(struct tcp_pcb *p);
void tcp__timer_stop(struct tcp_pcb *p);
void tcp__rtt_sample(struct tcp_pcb *p, uint64_t rtt_ns);
/* tcp_input.c: the RTO when a handshake completes. */
void tcp__handshake_rtt(struct tcp_pcb *p, const struct tcp_hdr *h, bool syn_resent);
void tcp__set_mss(struct tcp_pcb *p, const struct tcp_hdr *h);
#define TCP_MIN_MSS              88 /* what Linux accepts at least; 0 or 1 from a peer is an attack */
#define TCP_CHALLENGE_ACKS_PER_S 10 /* per connection */
#define TCP_ORPHAN_PROBES        8  /* a closed connection's peer keeps its window shut: give up */
/* Starts the RTO if data is out, and the tail loss probe before it. */
void tcp__arm_rto(struct tcp_pcb *p);
/* Starts the tail loss probe's timer if it may run and is not running. */
void tcp__arm_tlp(struct tcp_pcb *p);
/* Loss detected: fast retransmit and SACK or NewReno recovery. */
void tcp__enter_recovery(struct tcp_pcb *p);

#endif
