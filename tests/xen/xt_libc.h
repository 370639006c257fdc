/* The C library of os-xen/ as the tests in this directory link it: each
 * standard name prefixed xt_ (tests/xen/CMakeLists.txt). The declarations
 * are the freestanding headers' own, renamed, so that they cannot drift
 * from what Xen code is compiled against. Include after the system's
 * headers.
 */
#ifndef TESSERA_TESTS_XT_LIBC_H
#define TESSERA_TESTS_XT_LIBC_H

#define memcpy    xt_memcpy
#define memmove   xt_memmove
#define memset    xt_memset
#define memcmp    xt_memcmp
#define memchr    xt_memchr
#define strlen    xt_strlen
#define strnlen   xt_strnlen
#define strcmp    xt_strcmp
#define strncmp   xt_strncmp
#define strchr    xt_strchr
#define snprintf  xt_snprintf
#define vsnprintf xt_vsnprintf
#define malloc    xt_malloc
#define free      xt_free

#include "freestanding/include/string.h"
#include "freestanding/include/stdio.h"
#include "freestanding/include/stdlib.h"

#undef memcpy
#undef memmove
#undef memset
#undef memcmp
#undef memchr
#undef strlen
#undef strnlen
#undef strcmp
#undef strncmp
#undef strchr
#undef snprintf
#undef vsnprintf
#undef malloc
#undef free

#endif
