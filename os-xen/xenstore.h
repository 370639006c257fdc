/* The xenstore client: the protocol logic over the shared ring page.
 *
 * The Xen platform owns the ring page (struct xenstore_domain_interface,
 * from the start info) and the event channel. It gives this module the page
 * and a function that notifies xenstored, and calls xenstore_on_event
 * whenever the channel fires (from the scheduler's dispatch, never in
 * interrupt context). This module owns everything else: the request queue,
 * the matching of answers to requests by req_id, and the watches. It uses
 * no hypercall and no platform code, so the same object code is unit-tested
 * on Unix against an in-memory ring.
 *
 * Every operation returns one owned promise (lwt.h). Errors are negative
 * LWT_E* codes: xenstored's own ("ENOENT", "EACCES", "EAGAIN"...) map to
 * the codes of the same name; -LWT_EINVAL for arguments refused before
 * anything is sent (a NULL path, a message over XENSTORE_PAYLOAD_MAX);
 * -LWT_EBUSY when XENSTORE_MAX_REQUESTS requests are outstanding already
 * (nothing is queued past that: retry once some have settled); -LWT_EIO
 * once the connection is broken; -LWT_ECANCELED for everything outstanding
 * at xenstore_teardown.
 *
 * A broken connection: xenstored (or whatever sits on the other side of
 * the page) sent something this client cannot trust -- ring indexes more
 * than a ring apart, a length over XENSTORE_PAYLOAD_MAX, an answer to no
 * outstanding request, an answer of the wrong type, an error or a watch
 * event that is not NUL-terminated strings. It is logged, every outstanding
 * request is rejected with -LWT_EIO, the ring is no longer touched and
 * every later call fails with -LWT_EIO. Nothing is read outside the ring
 * or the message buffer, whatever the other side writes.
 *
 * Transactions: read, write, mkdir, rm and directory take a transaction
 * id, 0 for none. Watches and transaction start take none (xenstored
 * ignores it for them).
 *
 * Single-threaded, like the scheduler: every function, and the platform's
 * call to xenstore_on_event, runs on the loop.
 */
#ifndef TESSERA_XENSTORE_H
#define TESSERA_XENSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/io/xs_wire.h>

#include "lwt.h"

/* Requests sent or queued and not yet answered, including cancelled ones
 * whose answer has still to be consumed. */
#define XENSTORE_MAX_REQUESTS 64
/* Watches registered at once. */
#define XENSTORE_MAX_WATCHES 32

/* Called to kick the other end's event channel; ctx is xenstore_init's. */
typedef void (*xenstore_notify_fn)(void *ctx);

/* Called from xenstore_on_event for every event on a watched path: path is
 * the node that changed (the watched one or one below it), token the one
 * given to xenstore_watch. Both are borrowed for the call only. It may
 * start new operations and unwatch, but must not call xenstore_on_event or
 * xenstore_teardown. */
typedef void (*xenstore_watch_fn)(const char *path, const char *token, void *ctx);

/* The fulfilled value of xenstore_transaction_start: the transaction id. */
#define XENSTORE_TX_ID(value) ((uint32_t)(uintptr_t)(value))

/* The fulfilled value of xenstore_directory: the children's names, in the
 * order xenstored gave them, in one malloc'd block (the names follow the
 * array); free(dir) releases everything. Ownership as for a read's string
 * (see xenstore_read). */
struct xenstore_dir {
    size_t count;
    char *names[]; /* count NUL-terminated names */
};

/* ---- The state, owned by the caller ------------------------------------- */

struct xenstore__task; /* a cancelable request's hook, in its promise */

struct xenstore__req {
    lwt_resolver_t *r;           /* private: NULL once cancelled (the answer is dropped) */
    struct xenstore__task *task; /* private: cancelable requests only */
    char *msg;                   /* private: header and payload, until all in the ring */
    uint32_t len, off;           /* private: bytes of msg, bytes already in the ring */
    uint32_t req_id;             /* private */
    uint32_t watch_id;           /* private: XS_WATCH: the registration to undo on an error */
    uint16_t type;               /* private: enum xsd_sockmsg_type */
    uint8_t state;               /* private: free, queued, sent */
    int8_t next;                 /* private: the send queue */
};

struct xenstore__watch {
    char *path, *token;   /* private: one allocation; NULL: a free slot */
    xenstore_watch_fn fn; /* private */
    void *ctx;            /* private */
    uint32_t id;          /* private: the token on the wire is its hex form */
    char wire_token[12];  /* private */
};

struct xenstore {
    struct xenstore_domain_interface *ring;               /* private: NULL after teardown */
    xenstore_notify_fn notify;                            /* private */
    void *notify_ctx;                                     /* private */
    int err;                                              /* private: 0, or -LWT_EIO once broken */
    bool in_event;                                        /* private: xenstore_on_event is running */
    int8_t queue_head, queue_tail;                        /* private: requests waiting for ring space */
    uint32_t next_watch_id;                               /* private */
    uint32_t in_got;                                      /* private: bytes of the current answer so far */
    struct xsd_sockmsg in_hdr;                            /* private */
    char in[XENSTORE_PAYLOAD_MAX + 1];                    /* private: the answer's payload, NUL-terminated */
    struct xenstore__req reqs[XENSTORE_MAX_REQUESTS];     /* private */
    struct xenstore__watch watches[XENSTORE_MAX_WATCHES]; /* private */
};

/* ---- Life cycle ------------------------------------------------------------ */

/* Starts a client over ring, which stays the caller's and must outlive the
 * client. Answers already in the response ring (left from before) are
 * discarded, as Linux does. notify is called whenever this side produced
 * requests or consumed answers. 0, or -LWT_EINVAL (NULL arguments). */
int xenstore_init(struct xenstore *xs, struct xenstore_domain_interface *ring, xenstore_notify_fn notify,
                  void *notify_ctx);

/* Rejects every outstanding request with -LWT_ECANCELED, drops every watch
 * (without telling xenstored) and frees everything the client holds; the
 * caller may then free xs. Answers still on their way are left in the ring.
 * Not from a watch callback. */
void xenstore_teardown(struct xenstore *xs);

/* The event channel fired: consumes every complete answer (and the pieces
 * of an incomplete one) from the response ring, settles the requests they
 * answer (their callbacks are queued, never run here), calls the watch
 * callbacks, sends more of the queued requests as the request ring has
 * room, and notifies the other end if it consumed or produced anything. */
void xenstore_on_event(struct xenstore *xs);

/* 0, or -LWT_EIO once the connection is broken. */
int xenstore_error(const struct xenstore *xs);

/* Requests sent or queued and not answered yet (cancelled ones included). */
size_t xenstore_outstanding(const struct xenstore *xs);

/* ---- Operations --------------------------------------------------------------- */

/* The value of path: fulfilled with a char *, malloc'd and NUL-terminated,
 * which becomes the consumer's when the promise is fulfilled: whoever takes
 * it (lwt_value, or the value a bind or map callback receives) frees it
 * with free(). As for every value in lwt.h, the promise does not own it: a
 * fulfilled read dropped without taking its value leaks it, and so does a
 * pending read dropped without being cancelled. To give up a read, cancel
 * it: nothing is allocated for a cancelled read; its answer, when it comes,
 * is consumed and dropped here. A rejected read carries no string. A value
 * holding a NUL byte reads as its part before it. Cancelable. */
lwt_t *xenstore_read(struct xenstore *xs, uint32_t tx, const char *path);

/* Sets path to value (NUL-terminated, sent without the NUL), creating it
 * and its parents as needed. Fulfilled with NULL. Cancelable: the write
 * may still happen if it was sent already. */
lwt_t *xenstore_write(struct xenstore *xs, uint32_t tx, const char *path, const char *value);

/* Creates path (and its parents) with an empty value if missing. Fulfilled
 * with NULL. Cancelable, like write. */
lwt_t *xenstore_mkdir(struct xenstore *xs, uint32_t tx, const char *path);

/* Removes path and everything below it. Fulfilled with NULL. Cancelable,
 * like write. */
lwt_t *xenstore_rm(struct xenstore *xs, uint32_t tx, const char *path);

/* The names of path's children: fulfilled with a struct xenstore_dir *
 * (see there), owned like a read's string. Cancelable, like read. A
 * directory too large for one message is refused by xenstored (-LWT_E2BIG). */
lwt_t *xenstore_directory(struct xenstore *xs, uint32_t tx, const char *path);

/* Starts a transaction: fulfilled with its id (XENSTORE_TX_ID(value)). Not
 * cancelable: the transaction would exist without anyone to end it. */
lwt_t *xenstore_transaction_start(struct xenstore *xs);

/* Commits (commit true) or aborts transaction tx. Fulfilled with NULL;
 * rejected with -LWT_EAGAIN when the commit conflicts with another change:
 * start again. Not cancelable. */
lwt_t *xenstore_transaction_end(struct xenstore *xs, uint32_t tx, bool commit);

/* Watches path (and everything below it): fn(path, token, ctx) runs for
 * each event, including the one xenstored sends as soon as the watch is
 * registered. The registration is made here at once, so events are
 * delivered even before the promise is fulfilled (with NULL); if xenstored
 * refuses the watch, the registration is dropped and the promise rejected.
 * One registration per (path, token) pair: -LWT_EEXIST for a second;
 * -LWT_ENOSPC past XENSTORE_MAX_WATCHES. path and token are copied. Not
 * cancelable. */
lwt_t *xenstore_watch(struct xenstore *xs, const char *path, const char *token, xenstore_watch_fn fn, void *ctx);

/* Ends the (path, token) watch: its callback is not called again from the
 * moment this returns. Fulfilled with NULL once xenstored has removed it;
 * -LWT_ENOENT if there is no such watch here. Not cancelable. */
lwt_t *xenstore_unwatch(struct xenstore *xs, const char *path, const char *token);

#endif
