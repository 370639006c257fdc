/* Error codes shared by every Tessera layer.
 *
 * Functions return 0 or a negative code; promises are rejected with a negative
 * code. The portable layers cannot include <errno.h> (it is not part of the
 * freestanding subset), so the codes are defined here with Linux's numbers:
 * the Unix platform can then pass -errno straight through, and a unit test
 * checks that the numbers agree with the host's <errno.h>.
 */
#ifndef TESSERA_LWT_ERRNO_H
#define TESSERA_LWT_ERRNO_H

#define LWT_EPERM         1
#define LWT_ENOENT        2
#define LWT_EINTR         4
#define LWT_EIO           5
#define LWT_E2BIG         7
#define LWT_EBADF         9
#define LWT_EAGAIN        11
#define LWT_ENOMEM        12
#define LWT_EACCES        13
#define LWT_EFAULT        14
#define LWT_EBUSY         16
#define LWT_EEXIST        17
#define LWT_ENODEV        19
#define LWT_ENOTDIR       20
#define LWT_EISDIR        21
#define LWT_EINVAL        22
#define LWT_EMFILE        24
#define LWT_EFBIG         27
#define LWT_ENOSPC        28
#define LWT_EROFS         30
#define LWT_EPIPE         32
#define LWT_ERANGE        34
#define LWT_ENAMETOOLONG  36
#define LWT_ENOSYS        38
#define LWT_ENOTEMPTY     39
#define LWT_ENODATA       61
#define LWT_ETIME         62
#define LWT_EPROTO        71
#define LWT_EBADMSG       74
#define LWT_EOVERFLOW     75
#define LWT_EMSGSIZE      90
#define LWT_ENOPROTOOPT   92
#define LWT_EOPNOTSUPP    95
#define LWT_EADDRINUSE    98
#define LWT_EADDRNOTAVAIL 99
#define LWT_ENETDOWN      100
#define LWT_ENETUNREACH   101
#define LWT_ECONNABORTED  103
#define LWT_ECONNRESET    104
#define LWT_ENOBUFS       105
#define LWT_EISCONN       106
#define LWT_ENOTCONN      107
#define LWT_ESHUTDOWN     108
#define LWT_ETIMEDOUT     110
#define LWT_ECONNREFUSED  111
#define LWT_EHOSTUNREACH  113
#define LWT_EALREADY      114
#define LWT_EINPROGRESS   115
#define LWT_ECANCELED     125

/* Tessera's own code for a promise whose resolver was dropped while the
 * promise was still pending (C++ calls this a broken promise). Above the range
 * Linux uses, so it never collides with a host errno. */
#define LWT_EBROKEN 4096

/* A short, static, human-readable name for `err` (negative or positive);
 * "unknown error" for codes this table does not know. Never NULL. */
const char *lwt_strerror(int err);

#endif
