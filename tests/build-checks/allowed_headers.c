/* Everything the freestanding subset offers compiles. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int use_all(char *buf, size_t n);
int use_all(char *buf, size_t n)
{
    void *p = malloc(n);
    memset(p, 0, n);
    free(p);
    bool ok = strlen(buf) < SIZE_MAX;
    return snprintf(buf, n, "%d", ok);
}
