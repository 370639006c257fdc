/* snprintf and vsnprintf for Xen: the C99 conversions the system uses
 * (d i u x X o c s p %, flags - 0 + space #, width and precision with *,
 * length hh h l ll z j t), no floating point. Output is truncated to the
 * buffer, always NUL-terminated when size > 0; the return value is the
 * length the whole output would have had, as C says. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct out {
    char *buf;
    size_t size, len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void pad(struct out *o, char c, int n)
{
    while (n-- > 0)
        put(o, c);
}

struct spec {
    bool left, zero, plus, space, alt;
    int width, prec; /* prec -1: none */
};

static void emit_number(struct out *o, const struct spec *s, uintmax_t v, bool negative, unsigned base, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;
    while (v) {
        tmp[n++] = digits[v % base];
        v /= base;
    }
    int prec = s->prec < 0 ? 1 : s->prec;
    int zeros = prec > n ? prec - n : 0;
    if (base == 8 && s->alt && zeros == 0 && (n == 0 || tmp[n - 1] != '0'))
        zeros = 1;
    const char *prefix = negative ? "-" : s->plus ? "+" : s->space ? " " : "";
    if (base == 16 && s->alt && n > 0)
        prefix = upper ? "0X" : "0x";
    int plen = (int)strlen(prefix);
    int total = plen + zeros + n;
    if (!s->left && s->zero && s->prec < 0) {
        zeros += s->width > total ? s->width - total : 0;
        total = plen + zeros + n;
    }
    if (!s->left)
        pad(o, ' ', s->width - total);
    for (int i = 0; i < plen; i++)
        put(o, prefix[i]);
    pad(o, '0', zeros);
    while (n)
        put(o, tmp[--n]);
    if (s->left)
        pad(o, ' ', s->width - total);
}

static void emit_string(struct out *o, const struct spec *s, const char *str)
{
    if (!str)
        str = "(null)";
    size_t n = s->prec < 0 ? strlen(str) : strnlen(str, (size_t)s->prec);
    if (!s->left)
        pad(o, ' ', s->width - (int)n);
    for (size_t i = 0; i < n; i++)
        put(o, str[i]);
    if (s->left)
        pad(o, ' ', s->width - (int)n);
}

int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
{
    struct out o = {buf, size, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        struct spec s = {.prec = -1};
        for (;; fmt++) {
            char f = fmt[1];
            if (f == '-')
                s.left = true;
            else if (f == '0')
                s.zero = true;
            else if (f == '+')
                s.plus = true;
            else if (f == ' ')
                s.space = true;
            else if (f == '#')
                s.alt = true;
            else
                break;
        }
        fmt++;
        if (*fmt == '*') {
            s.width = va_arg(ap, int);
            if (s.width < 0) {
                s.left = true;
                s.width = -s.width;
            }
            fmt++;
        } else
            while (*fmt >= '0' && *fmt <= '9')
                s.width = s.width * 10 + (*fmt++ - '0');
        if (*fmt == '.') {
            fmt++;
            s.prec = 0;
            if (*fmt == '*') {
                s.prec = va_arg(ap, int);
                fmt++;
            } else
                while (*fmt >= '0' && *fmt <= '9')
                    s.prec = s.prec * 10 + (*fmt++ - '0');
        }
        enum { L_INT, L_CHAR, L_SHORT, L_LONG, L_LLONG, L_SIZE, L_MAX, L_PTRDIFF } len = L_INT;
        if (*fmt == 'h') {
            len = fmt[1] == 'h' ? L_CHAR : L_SHORT;
            fmt += len == L_CHAR ? 2 : 1;
        } else if (*fmt == 'l') {
            len = fmt[1] == 'l' ? L_LLONG : L_LONG;
            fmt += len == L_LLONG ? 2 : 1;
        } else if (*fmt == 'z') {
            len = L_SIZE;
            fmt++;
        } else if (*fmt == 'j') {
            len = L_MAX;
            fmt++;
        } else if (*fmt == 't') {
            len = L_PTRDIFF;
            fmt++;
        }
        char conv = *fmt;
        if (conv == 'd' || conv == 'i') {
            intmax_t v;
            switch (len) {
            case L_LONG:
                v = va_arg(ap, long);
                break;
            case L_LLONG:
                v = va_arg(ap, long long);
                break;
            case L_SIZE:
                v = (intmax_t)va_arg(ap, size_t);
                break;
            case L_MAX:
                v = va_arg(ap, intmax_t);
                break;
            case L_PTRDIFF:
                v = va_arg(ap, ptrdiff_t);
                break;
            case L_CHAR:
                v = (signed char)va_arg(ap, int);
                break;
            case L_SHORT:
                v = (short)va_arg(ap, int);
                break;
            default:
                v = va_arg(ap, int);
                break;
            }
            uintmax_t mag = v < 0 ? (uintmax_t)0 - (uintmax_t)v : (uintmax_t)v;
            emit_number(&o, &s, mag, v < 0, 10, false);
        } else if (conv == 'u' || conv == 'x' || conv == 'X' || conv == 'o') {
            uintmax_t v;
            switch (len) {
            case L_LONG:
                v = va_arg(ap, unsigned long);
                break;
            case L_LLONG:
                v = va_arg(ap, unsigned long long);
                break;
            case L_SIZE:
                v = va_arg(ap, size_t);
                break;
            case L_MAX:
                v = va_arg(ap, uintmax_t);
                break;
            case L_PTRDIFF:
                v = (uintmax_t)va_arg(ap, ptrdiff_t);
                break;
            case L_CHAR:
                v = (unsigned char)va_arg(ap, unsigned);
                break;
            case L_SHORT:
                v = (unsigned short)va_arg(ap, unsigned);
                break;
            default:
                v = va_arg(ap, unsigned);
                break;
            }
            s.plus = s.space = false;
            unsigned base = conv == 'u' ? 10 : conv == 'o' ? 8 : 16;
            emit_number(&o, &s, v, false, base, conv == 'X');
        } else if (conv == 'p') {
            s.alt = true;
            emit_number(&o, &s, (uintptr_t)va_arg(ap, void *), false, 16, false);
        } else if (conv == 'c') {
            char c[2] = {(char)va_arg(ap, int), 0};
            s.prec = 1;
            if (c[0] == 0) { /* a NUL character is still one character */
                pad(&o, ' ', s.left ? 0 : s.width - 1);
                put(&o, 0);
                pad(&o, ' ', s.left ? s.width - 1 : 0);
            } else
                emit_string(&o, &s, c);
        } else if (conv == 's') {
            emit_string(&o, &s, va_arg(ap, const char *));
        } else if (conv == '%') {
            put(&o, '%');
        } else {
            /* Unknown conversion: print it as it was, and stop at the end. */
            put(&o, '%');
            if (!conv)
                break;
            put(&o, conv);
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = 0;
    return o.len > INT32_MAX ? INT32_MAX : (int)o.len;
}

int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
