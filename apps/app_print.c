/* See app.h. */
#include <stdarg.h>
#include <stdio.h>

#include "app.h"

void app_print(const struct app_devices *dev, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
    line[len++] = '\n';
    console_write(dev->console, line, len);
}
