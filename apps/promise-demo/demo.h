/* The promise demo (portable part). */
#ifndef TESSERA_PROMISE_DEMO_H
#define TESSERA_PROMISE_DEMO_H

#include "lwt.h"

/* Runs the demo with `items` values through the pipeline, reporting each
 * step through say; returns the consumer's sum of squares, or -1. */
long promise_demo_run(void (*say)(const char *line), int items);

#endif
