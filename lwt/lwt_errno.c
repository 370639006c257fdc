/* Names for the error codes of lwt_errno.h. */
#include "lwt_errno.h"

const char *lwt_strerror(int err)
{
    switch (err < 0 ? -err : err) {
    case 0:
        return "success";
    case LWT_EPERM:
        return "operation not permitted";
    case LWT_ENOENT:
        return "no such file or directory";
    case LWT_EINTR:
        return "interrupted";
    case LWT_EIO:
        return "input/output error";
    case LWT_E2BIG:
        return "argument list too long";
    case LWT_EBADF:
        return "bad descriptor";
    case LWT_EAGAIN:
        return "try again";
    case LWT_ENOMEM:
        return "out of memory";
    case LWT_EACCES:
        return "permission denied";
    case LWT_EFAULT:
        return "bad address";
    case LWT_EBUSY:
        return "busy";
    case LWT_EEXIST:
        return "already exists";
    case LWT_ENODEV:
        return "no such device";
    case LWT_ENOTDIR:
        return "not a directory";
    case LWT_EISDIR:
        return "is a directory";
    case LWT_EINVAL:
        return "invalid argument";
    case LWT_EMFILE:
        return "too many open files";
    case LWT_EFBIG:
        return "file too large";
    case LWT_ENOSPC:
        return "no space left";
    case LWT_EROFS:
        return "read-only file system";
    case LWT_EPIPE:
        return "broken pipe";
    case LWT_ERANGE:
        return "out of range";
    case LWT_ENAMETOOLONG:
        return "name too long";
    case LWT_ENOSYS:
        return "not implemented";
    case LWT_ENOTEMPTY:
        return "directory not empty";
    case LWT_ENODATA:
        return "no more data";
    case LWT_ETIME:
        return "timer expired";
    case LWT_EPROTO:
        return "protocol error";
    case LWT_EBADMSG:
        return "malformed message";
    case LWT_EOVERFLOW:
        return "value too large";
    case LWT_EMSGSIZE:
        return "message too long";
    case LWT_ENOPROTOOPT:
        return "protocol option not available";
    case LWT_EOPNOTSUPP:
        return "operation not supported";
    case LWT_EADDRINUSE:
        return "address in use";
    case LWT_EADDRNOTAVAIL:
        return "address not available";
    case LWT_ENETDOWN:
        return "network is down";
    case LWT_ENETUNREACH:
        return "network unreachable";
    case LWT_ECONNABORTED:
        return "connection aborted";
    case LWT_ECONNRESET:
        return "connection reset";
    case LWT_ENOBUFS:
        return "no buffer space";
    case LWT_EISCONN:
        return "already connected";
    case LWT_ENOTCONN:
        return "not connected";
    case LWT_ESHUTDOWN:
        return "endpoint shut down";
    case LWT_ETIMEDOUT:
        return "timed out";
    case LWT_ECONNREFUSED:
        return "connection refused";
    case LWT_EHOSTUNREACH:
        return "host unreachable";
    case LWT_EALREADY:
        return "already in progress";
    case LWT_EINPROGRESS:
        return "in progress";
    case LWT_ECANCELED:
        return "canceled";
    case LWT_EBROKEN:
        return "resolver dropped (broken promise)";
    default:
        return "unknown error";
    }
}
