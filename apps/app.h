/* What an application sees (DESIGN.md §4): the devices it declared, as
 * interface pointers, and nothing of the platform it runs on. Each app
 * defines app_main and returns its main promise; the platform runs it to
 * completion with the scheduler. A fulfilled main promise is a successful
 * exit, a rejected one a failure.
 */
#ifndef TESSERA_APP_H
#define TESSERA_APP_H

#include <stdint.h>

#include "console.h"
#include "lwt.h"

struct block;      /* block/block.h */
struct net_stack;  /* net/stack.h */
struct flow_stack; /* net/flow.h */
struct kv;         /* kv/kv.h */
struct wallclock;  /* sched/wallclock.h */

/* Every device is borrowed for the life of the app; NULL where the app's
 * target does not provide it. */
struct app_devices {
    struct console *console;
    struct wallclock *clock; /* the time of day */
    /* TCP flows (net/flow.h): kernel sockets on the unix-socket target,
     * Tessera's own stack on unix-direct and xen. The app never knows
     * which. */
    struct flow_stack *flows;
    /* Tessera's own network stack (net/stack.h), configured, on the
     * unix-direct and xen targets: for apps that need more than flows
     * (UDP, the stack's counters). */
    struct net_stack *net;
    /* The app's files (kv/kv.h): its compiled-in ASSETS, or on Unix a
     * directory named on the command line, or a disk image (on Unix a
     * file, on Xen a virtual disk) named there with --kv-disk. */
    struct kv *kv;
    /* A disk (block/block.h), for apps built with tessera_add_block_app:
     * on Unix a file, on Xen a virtual disk, named with --block. */
    struct block *block;
};

/* argc/argv: the command line (on Xen: the words of extra=). */
lwt_t *app_main(const struct app_devices *dev, int argc, char **argv);

/* Parses a decimal port number in min..65535 (min 0 lets the platform
 * pick a free port): 0, or -LWT_EINVAL for anything else. */
int app_parse_port(const char *text, uint16_t min, uint16_t *port);

/* Prints one line (a newline is added) on the app's console. */
void app_print(const struct app_devices *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
