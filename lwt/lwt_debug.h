/* Private to lwt/: debug-build bookkeeping (creation sites, the list of live
 * promises, bind-site traces of rejections). Every function here compiles to
 * nothing without LWT_DEBUG. */
#ifndef TESSERA_LWT_DEBUG_H
#define TESSERA_LWT_DEBUG_H

#include "lwt_internal.h"

#ifdef LWT_DEBUG
void lwt__debug_track(struct lwt *p, const char *file, int line);
void lwt__debug_untrack(struct lwt *p);
/* Gives rejected p the trace of src (may be NULL) extended by via's
 * creation site (may be NULL). */
void lwt__debug_set_trace(struct lwt *p, const struct lwt *src, const struct lwt *via);
/* Pending u is becoming a proxy of pending outer: outer's rejection will
 * have travelled through u (and what was merged into u). */
void lwt__debug_merge(struct lwt *outer, struct lwt *u);
#else
static inline void lwt__debug_track(struct lwt *p, const char *file, int line)
{
    (void)p, (void)file, (void)line;
}
static inline void lwt__debug_untrack(struct lwt *p)
{
    (void)p;
}
static inline void lwt__debug_set_trace(struct lwt *p, const struct lwt *src, const struct lwt *via)
{
    (void)p, (void)src, (void)via;
}
static inline void lwt__debug_merge(struct lwt *outer, struct lwt *u)
{
    (void)outer, (void)u;
}
#endif

#endif
