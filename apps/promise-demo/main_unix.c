/* Hosted driver for the promise demo: prints to stdout. (The scheduler and
 * the Unix platform arrive with the next layer; until then the demo drains
 * the promise library's queue itself.) */
#include <stdio.h>
#include <stdlib.h>

#include "demo.h"

static void say(const char *line)
{
    printf("%s\n", line);
}

static void write_out(const char *text, size_t len)
{
    fwrite(text, 1, len, stderr);
}

static void panic(const char *msg)
{
    fprintf(stderr, "panic: %s\n", msg);
    abort();
}

int main(int argc, char **argv)
{
    static const struct lwt_platform platform = {.write = write_out, .panic = panic};
    lwt_set_platform(&platform);
    int items = argc > 1 ? atoi(argv[1]) : 10;
    long sum = promise_demo_run(say, items);
    printf("done: sum of squares 1..%d = %ld, promises still alive: %zu\n", items, sum, lwt_live_count());
    return sum < 0 || lwt_live_count() != 0;
}
