/* See app.h. */
#include "app.h"
#include "lwt_errno.h"

int app_parse_port(const char *text, uint16_t min, uint16_t *port)
{
    unsigned long v = 0;
    if (!*text)
        return -LWT_EINVAL;
    for (; *text; text++) {
        if (*text < '0' || *text > '9')
            return -LWT_EINVAL;
        v = v * 10 + (unsigned long)(*text - '0');
        if (v > 65535)
            return -LWT_EINVAL;
    }
    if (v < min)
        return -LWT_EINVAL;
    *port = (uint16_t)v;
    return 0;
}
