/* Must not compile under the freestanding flags: a POSIX header. */
#include <unistd.h>

int forbidden(void);
int forbidden(void)
{
    return 0;
}
