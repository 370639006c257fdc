/* What an application sees (DESIGN.md §4): the devices it declared, as
 * interface pointers, and nothing of the platform it runs on. Each app
 * defines app_main and returns its main promise; the platform runs it to
 * completion with the scheduler. A fulfilled main promise is a successful
 * exit, a rejected one a failure.
 */
#ifndef TESSERA_APP_H
#define TESSERA_APP_H

#include "console.h"
#include "lwt.h"

struct net_stack; /* net/stack.h */

struct app_devices {
    struct console *console; /* borrowed for the life of the app */
    /* The network stack (net/stack.h), configured, for apps built as
     * network apps; NULL otherwise. Borrowed for the life of the app. */
    struct net_stack *net;
};

/* argc/argv: the command line (on Xen: the words of extra=). */
lwt_t *app_main(const struct app_devices *dev, int argc, char **argv);

/* Prints one line (a newline is added) on the app's console. */
void app_print(const struct app_devices *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
