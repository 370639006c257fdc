/* Must not compile under the freestanding flags: printf is not declared by
 * the subset's stdio.h. */
#include <stdio.h>

int forbidden(void);
int forbidden(void)
{
    return printf("hello\n");
}
