/* Private to lwt/: queues of waiting tasks (see lwt_waitq.c). */
#ifndef TESSERA_LWT_WAITQ_H
#define TESSERA_LWT_WAITQ_H

#include "lwt_internal.h"
#include "lwt_sync.h"

void lwt__waitq_init(struct lwt_waitq *q);
/* A new waiting task at the back of q, carrying payload. */
lwt_t *lwt__waitq_wait(struct lwt_waitq *q, void *payload);
/* Takes the oldest waiter: its resolver (the caller must wake it) and its
 * payload. False when q is empty. */
bool lwt__waitq_pop(struct lwt_waitq *q, lwt_resolver_t **resolver_out, void **payload_out);
/* Settles everyone waiting at the time of the call. */
void lwt__waitq_wake_all(struct lwt_waitq *q, void *value);
void lwt__waitq_fail_all(struct lwt_waitq *q, int err);

#endif
