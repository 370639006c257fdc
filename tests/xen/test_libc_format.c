/* os-xen/xen_format.c (linked as xt_snprintf) against glibc's snprintf
 * over generated formats: every conversion with every flag, width and
 * precision C gives a meaning to it (literal, * and negative *), every
 * length modifier, extreme values; then truncation at every buffer size,
 * with a guard after the buffer, and formats C leaves undefined, which
 * must not crash. Where xt deliberately differs from glibc (NULL for %p,
 * NULL for %s with a precision under 6) the case says what it compares.
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libc_test.h"
#include "xt_libc.h"

#define OUT_MAX 2048 /* no generated case prints more */
#define GUARD   64
#define FILL    0xa5 /* what the buffer holds before a call */

/* The argument types a conversion can take. */
enum cls {
    A_INT,
    A_UINT,
    A_LONG,
    A_ULONG,
    A_LLONG,
    A_ULLONG,
    A_INTMAX,
    A_UINTMAX,
    A_SIZE,
    A_PTRDIFF,
    A_STR,
    A_PTR,
};

/* One generated format with a single argument after its * values. */
struct fcase {
    char fmt[128];
    int nstar, star[2];
    enum cls cls;
    uint64_t v;
    const char *s;
    void *p;
};

static int call(bool xt, char *buf, size_t size, const char *fmt, enum cls cls, const struct fcase *c)
{
#define WITH(f, T, val)                                                                                                \
    (c->nstar == 0   ? f(buf, size, fmt, (T)(val))                                                                     \
     : c->nstar == 1 ? f(buf, size, fmt, c->star[0], (T)(val))                                                         \
                     : f(buf, size, fmt, c->star[0], c->star[1], (T)(val)))
#define PASS(T, val) (xt ? WITH(xt_snprintf, T, val) : WITH(snprintf, T, val))
    switch (cls) {
    case A_INT:
        return PASS(int, c->v);
    case A_UINT:
        return PASS(unsigned, c->v);
    case A_LONG:
        return PASS(long, c->v);
    case A_ULONG:
        return PASS(unsigned long, c->v);
    case A_LLONG:
        return PASS(long long, c->v);
    case A_ULLONG:
        return PASS(unsigned long long, c->v);
    case A_INTMAX:
        return PASS(intmax_t, c->v);
    case A_UINTMAX:
        return PASS(uintmax_t, c->v);
    case A_SIZE:
        return PASS(size_t, c->v);
    case A_PTRDIFF:
        return PASS(ptrdiff_t, c->v);
    case A_STR:
        return PASS(const char *, c->s);
    case A_PTR:
        return PASS(void *, c->p);
    }
#undef PASS
#undef WITH
    fail_msg("bad class %d", cls);
    return -1;
}

/* What xt_snprintf must produce at every size from 0 to past the end:
 * the reference's first size-1 bytes and a NUL, the full length as the
 * result, and nothing written at or after buf[size]. run(buf, size)
 * makes the call. Long outputs skip most sizes in their middle, which
 * teach nothing new and cost the square of the length. */
struct runner {
    int (*run)(const void *ctx, char *buf, size_t size);
    const void *ctx;
    const char *what; /* for messages */
};

static void check_every_size(const struct runner *r, const char *ref, size_t reflen)
{
    static unsigned char buf[OUT_MAX + 2 + GUARD];
    assert_true(reflen < OUT_MAX);
    for (size_t size = 0; size <= reflen + 2; size++) {
        if (size > 128 && size + 64 < reflen && size % 37)
            continue;
        memset(buf, FILL, size + GUARD);
        int n = r->run(r->ctx, (char *)buf, size);
        if (n < 0 || (size_t)n != reflen)
            fail_msg("%s: size %zu returned %d, not %zu", r->what, size, n, reflen);
        size_t kept = size ? (reflen < size - 1 ? reflen : size - 1) : 0;
        if (memcmp(buf, ref, kept) != 0)
            fail_msg("%s: size %zu: the output is not the reference's start", r->what, size);
        if (size && buf[kept] != 0)
            fail_msg("%s: size %zu: no NUL at %zu", r->what, size, kept);
        for (size_t i = size; i < size + GUARD; i++)
            if (buf[i] != FILL)
                fail_msg("%s: size %zu: wrote byte %zu, past the end", r->what, size, i);
        for (size_t i = kept + 1; i < size; i++)
            if (buf[i] != FILL)
                fail_msg("%s: size %zu: wrote byte %zu, past the NUL", r->what, size, i);
    }
    /* C allows a null buffer when the size is 0. */
    if (r->run(r->ctx, NULL, 0) != (int)reflen)
        fail_msg("%s: NULL buffer, size 0: wrong length", r->what);
}

static int run_fcase(const void *ctx, char *buf, size_t size)
{
    const struct fcase *c = ctx;
    return call(true, buf, size, c->fmt, c->cls, c);
}

/* Appends to a format being built. */
static void app(char *fmt, size_t size, const char *text)
{
    size_t len = strlen(fmt);
    assert_true(len + strlen(text) < size);
    strcpy(fmt + len, text);
}

static void appf(char *fmt, size_t size, int v)
{
    char num[16];
    snprintf(num, sizeof num, "%d", v);
    app(fmt, size, num);
}

/* Literal text around the directives, bytes >= 0x80 and %% included. */
static void gen_literal(uint64_t *rng, char *fmt, size_t size)
{
    static const char *const pieces[] = {"a", "Z", " ", "-", "0", "9", "\xc3\xa9", "\xff", "%%", "<>", "\t"};
    for (int n = (int)rng_below(rng, 4); n > 0; n--)
        app(fmt, size, pieces[rng_below(rng, sizeof pieces / sizeof pieces[0])]);
}

/* 0, extremes, boundaries of the bases, and random values of every
 * magnitude, either sign; the call converts them to the argument's type. */
static uint64_t gen_value(uint64_t *rng)
{
    static const uint64_t specials[] = {
        0,
        1,
        UINT64_MAX, /* -1 */
        (uint64_t)INT64_MIN,
        INT64_MAX,
        (uint64_t)INT32_MIN,
        INT32_MAX,
        UINT32_MAX,
        0x80000000ull,
        0xffff8000ull,
        INT16_MAX,
        UINT16_MAX,
        0x80,
        0xff,
        7,
        8,
        9,
        10,
        15,
        16,
        99,
        100,
        0x7fffffffffffff80ull,
        0xfffffffffffffff0ull,
    };
    if (rng_below(rng, 3) == 0)
        return specials[rng_below(rng, sizeof specials / sizeof specials[0])];
    uint64_t v = rng_next(rng) >> rng_below(rng, 64);
    return rng_below(rng, 2) ? v : (uint64_t)0 - v;
}

/* Where the generator may use a flag, per C11 7.21.6.1: '#' only for o x
 * X, '0' only for the integer conversions, and + and space never for %p,
 * where glibc prints a sign C does not ask for. */
static const char *flags_for(char conv)
{
    switch (conv) {
    case 'd':
    case 'i':
    case 'u':
        return "-0+ ";
    case 'o':
    case 'x':
    case 'X':
        return "-0+ #";
    case 'c':
    case 's':
        return "-+ ";
    case 'p':
        return "-";
    default:
        return "";
    }
}

struct gen_opts {
    bool int_args_only; /* d i u x X o c with int-sized arguments, for multi-directive formats */
    bool no_stars;
};

struct directive {
    size_t at; /* of its '%' in the format */
    char conv;
    int nstar, star[2];
    enum cls cls;
    bool has_prec;
    int prec; /* as given, when has_prec; may be negative through * */
};

/* Appends one random directive to fmt. */
static void gen_directive(uint64_t *rng, char *fmt, size_t size, const struct gen_opts *o, struct directive *d)
{
    const char *convs = o->int_args_only ? "diuxXoc" : "diuxXocsp%";
    char conv = convs[rng_below(rng, strlen(convs))];
    bool integer = strchr("diuxXo", conv) != NULL;
    memset(d, 0, sizeof *d);
    d->at = strlen(fmt);
    d->conv = conv;
    app(fmt, size, "%");
    const char *flags = flags_for(conv);
    for (int n = *flags ? (int)rng_below(rng, 4) : 0; n > 0; n--) {
        char f[2] = {flags[rng_below(rng, strlen(flags))], 0};
        app(fmt, size, f);
    }
    if (conv != '%') {
        unsigned w = (unsigned)rng_below(rng, 10);
        if (w >= 8 && !o->no_stars) {
            app(fmt, size, "*");
            d->star[d->nstar++] = (int)rng_below(rng, 51) - 25;
        } else if (w >= 4)
            appf(fmt, size, (int)(w == 7 ? 21 + rng_below(rng, 280) : 1 + rng_below(rng, 20)));
    }
    if (integer || conv == 's') {
        unsigned p = (unsigned)rng_below(rng, 10);
        if (p >= 8 && !o->no_stars) {
            app(fmt, size, ".*");
            d->has_prec = true;
            d->prec = (int)rng_below(rng, 36) - 10;
            d->star[d->nstar++] = d->prec;
        } else if (p == 7) {
            app(fmt, size, ".");
            d->has_prec = true;
        } else if (p >= 4) {
            d->has_prec = true;
            d->prec = (int)rng_below(rng, 21);
            app(fmt, size, rng_below(rng, 4) ? "." : ".0"); /* a leading 0 is still a precision */
            appf(fmt, size, d->prec);
        }
    }
    d->cls = A_INT;
    if (integer) {
        static const char *const lengths[] = {"", "hh", "h", "l", "ll", "j", "z", "t"};
        static const enum cls sig[] = {A_INT, A_INT, A_INT, A_LONG, A_LLONG, A_INTMAX, A_SIZE, A_PTRDIFF};
        static const enum cls uns[] = {A_UINT, A_UINT, A_UINT, A_ULONG, A_ULLONG, A_UINTMAX, A_SIZE, A_PTRDIFF};
        unsigned l = (unsigned)rng_below(rng, o->int_args_only ? 3 : 8);
        app(fmt, size, lengths[l]);
        d->cls = conv == 'd' || conv == 'i' ? sig[l] : uns[l];
        if (o->int_args_only)
            d->cls = A_INT;
    } else if (conv == 's')
        d->cls = A_STR;
    else if (conv == 'p')
        d->cls = A_PTR;
    char c[2] = {conv, 0};
    app(fmt, size, c);
}

/* glibc prints "(null)" for a null %s, unless the precision is under 6
 * (then nothing); xt prints as much of "(null)" as the precision allows.
 * C leaves it undefined: only glibc's "(null)" cases are compared. */
static bool glibc_prints_null(void)
{
    char buf[16];
    const char *fmt = "%s";
    const char *volatile null = NULL;
    snprintf(buf, sizeof buf, fmt, null);
    return strcmp(buf, "(null)") == 0;
}

static void single_directives_match_glibc(void **state)
{
    (void)state;
    uint64_t rng = 0x5eed;
    /* Exactly 8 bytes and no NUL: %s with a precision up to 8 reads no
     * further. glibc's output comes from a terminated copy (ASan's printf
     * checks would take "%.0s" for a read of the whole string). */
    char *unterminated = malloc(8);
    assert_non_null(unterminated);
    memcpy(unterminated, "abcdefgh", 8);
    static const char *const strings[] = {"", "a", "hello", "\xc3\xa9t\xc3\xa9 \xff",
                                          "a longer string, 32 bytes long.."};
    bool null_ok = glibc_prints_null();
    size_t null_compared = 0, nil_compared = 0;
    size_t rounds = scaled(100000, 5000);
    static char ref[OUT_MAX], rfmt[128];
    for (size_t i = 0; i < rounds; i++) {
        struct fcase c = {.fmt = ""};
        struct directive d;
        gen_literal(&rng, c.fmt, sizeof c.fmt);
        gen_directive(&rng, c.fmt, sizeof c.fmt, &(struct gen_opts){0}, &d);
        gen_literal(&rng, c.fmt, sizeof c.fmt);
        c.nstar = d.nstar;
        memcpy(c.star, d.star, sizeof c.star);
        c.cls = d.cls;
        c.v = gen_value(&rng);
        if (d.conv == 'c' && rng_below(&rng, 2))
            c.v = rng_below(&rng, 256); /* mostly real characters, NUL included */
        c.s = strings[rng_below(&rng, sizeof strings / sizeof strings[0])];
        bool null_string = false;
        if (c.cls == A_STR && d.has_prec && d.prec >= 0 && d.prec <= 8 && rng_below(&rng, 3) == 0)
            c.s = unterminated;
        else if (c.cls == A_STR && null_ok && rng_below(&rng, 8) == 0) {
            c.s = NULL;
            null_string = true;
        }
        c.p = (void *)(uintptr_t)(c.v ? c.v : 1);
        /* The reference for a null %p is %#lx of 0, which is what xt prints
         * (glibc says "(nil)"). */
        const char *ref_fmt = c.fmt;
        enum cls ref_cls = c.cls;
        if (c.cls == A_PTR && rng_below(&rng, 8) == 0) {
            c.p = NULL;
            c.v = 0;
            const char *p = strchr(c.fmt + d.at, 'p');
            snprintf(rfmt, sizeof rfmt, "%.*s%%#%.*slx%s", (int)d.at, c.fmt, (int)(p - c.fmt - d.at - 1),
                     c.fmt + d.at + 1, p + 1);
            ref_fmt = rfmt;
            ref_cls = A_ULONG;
            nil_compared++;
        }
        struct fcase rc = c;
        if (c.s == unterminated)
            rc.s = "abcdefgh";
        int reflen = call(false, ref, sizeof ref, ref_fmt, ref_cls, &rc);
        assert_true(reflen >= 0 && reflen < OUT_MAX);
        if (null_string) {
            if (!memmem(ref, (size_t)reflen, "(null)", 6))
                continue;
            null_compared++;
        }
        char what[200];
        snprintf(what, sizeof what, "case %zu: \"%s\" (value %#llx, * %d %d)", i, c.fmt, (unsigned long long)c.v,
                 c.star[0], c.star[1]);
        struct runner r = {run_fcase, &c, what};
        static char got[OUT_MAX];
        int n = call(true, got, sizeof got, c.fmt, c.cls, &c);
        if (n != reflen || memcmp(got, ref, (size_t)reflen + 1) != 0)
            fail_msg("%s: \"%.*s\" (%d), glibc \"%.*s\" (%d)", what, n > 0 ? n : 0, got, n, reflen, ref, reflen);
        /* Every size for a share of the cases: enough to meet every shape. */
        if (i % 4 == 0)
            check_every_size(&r, ref, (size_t)reflen);
    }
    free(unterminated);
    if (null_ok)
        assert_true(null_compared > 0);
    assert_true(nil_compared > 0);
}

/* Several directives in one format, all taking ints (so one fixed argument
 * list serves them all), with * values among them: the arguments must be
 * consumed in order. */
struct multi {
    char fmt[256];
    int args[12];
};

static int run_multi(const void *ctx, char *buf, size_t size)
{
    const struct multi *m = ctx;
    const int *a = m->args;
    return xt_snprintf(buf, size, m->fmt, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]);
}

static void several_int_directives_match_glibc(void **state)
{
    (void)state;
    uint64_t rng = 0x3117;
    size_t rounds = scaled(20000, 1500);
    static char ref[OUT_MAX];
    for (size_t i = 0; i < rounds; i++) {
        struct multi m = {.fmt = ""};
        size_t nargs = 0;
        gen_literal(&rng, m.fmt, sizeof m.fmt);
        for (int k = 1 + (int)rng_below(&rng, 4); k > 0; k--) {
            struct directive d;
            gen_directive(&rng, m.fmt, sizeof m.fmt, &(struct gen_opts){.int_args_only = true}, &d);
            for (int s = 0; s < d.nstar; s++)
                m.args[nargs++] = d.star[s];
            m.args[nargs++] = (int)gen_value(&rng);
            gen_literal(&rng, m.fmt, sizeof m.fmt);
        }
        while (nargs < 12) /* unused, as C allows */
            m.args[nargs++] = (int)gen_value(&rng);
        const int *a = m.args;
        int reflen =
            snprintf(ref, sizeof ref, m.fmt, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]);
        assert_true(reflen >= 0 && reflen < OUT_MAX);
        char what[300];
        snprintf(what, sizeof what, "case %zu: \"%s\"", i, m.fmt);
        struct runner r = {run_multi, &m, what};
        check_every_size(&r, ref, (size_t)reflen);
    }
}

/* The same with long long arguments, no * values. */
struct multi_ll {
    char fmt[256];
    long long args[6];
};

static int run_multi_ll(const void *ctx, char *buf, size_t size)
{
    const struct multi_ll *m = ctx;
    const long long *a = m->args;
    return xt_snprintf(buf, size, m->fmt, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static void several_long_long_directives_match_glibc(void **state)
{
    (void)state;
    uint64_t rng = 0x1105;
    size_t rounds = scaled(6000, 600);
    static char ref[OUT_MAX];
    for (size_t i = 0; i < rounds; i++) {
        struct multi_ll m = {.fmt = ""};
        gen_literal(&rng, m.fmt, sizeof m.fmt);
        for (int k = 0; k < 6; k++) {
            struct directive d;
            /* Built as an int directive, then given the ll length. */
            char dir[64] = "";
            do {
                dir[0] = 0;
                gen_directive(&rng, dir, sizeof dir, &(struct gen_opts){.int_args_only = true, .no_stars = true}, &d);
            } while (strchr(dir, 'c') || strchr(dir, 'h'));
            size_t len = strlen(dir);
            char conv[2] = {dir[len - 1], 0};
            dir[len - 1] = 0;
            app(m.fmt, sizeof m.fmt, dir);
            app(m.fmt, sizeof m.fmt, "ll");
            app(m.fmt, sizeof m.fmt, conv);
            gen_literal(&rng, m.fmt, sizeof m.fmt);
            m.args[k] = (long long)gen_value(&rng);
        }
        const long long *a = m.args;
        int reflen = snprintf(ref, sizeof ref, m.fmt, a[0], a[1], a[2], a[3], a[4], a[5]);
        assert_true(reflen >= 0 && reflen < OUT_MAX);
        char what[300];
        snprintf(what, sizeof what, "case %zu: \"%s\"", i, m.fmt);
        struct runner r = {run_multi_ll, &m, what};
        check_every_size(&r, ref, (size_t)reflen);
    }
}

/* Hand-written formats that mix argument types, compiled (and checked by
 * -Wformat) as literals. */
#define MIXED(fmt, ...)                                                                                                \
    do {                                                                                                               \
        static char ref_[OUT_MAX], got_[OUT_MAX];                                                                      \
        int reflen_ = snprintf(ref_, sizeof ref_, fmt, __VA_ARGS__);                                                   \
        int n_ = xt_snprintf(got_, sizeof got_, fmt, __VA_ARGS__);                                                     \
        if (n_ != reflen_ || memcmp(ref_, got_, (size_t)reflen_ + 1) != 0)                                             \
            fail_msg("\"%s\": \"%s\" (%d), glibc \"%s\" (%d)", fmt, got_, n_, ref_, reflen_);                          \
        for (size_t size_ = 0; size_ <= (size_t)reflen_ + 1; size_++) {                                                \
            memset(got_, FILL, sizeof got_);                                                                           \
            n_ = xt_snprintf(got_, size_, fmt, __VA_ARGS__);                                                           \
            size_t kept_ = size_ ? (size_t)reflen_ < size_ - 1 ? (size_t)reflen_ : size_ - 1 : 0;                      \
            assert_int_equal(n_, reflen_);                                                                             \
            assert_memory_equal(got_, ref_, kept_);                                                                    \
            if (size_)                                                                                                 \
                assert_int_equal(got_[kept_], 0);                                                                      \
            assert_int_equal((unsigned char)got_[size_], FILL);                                                        \
        }                                                                                                              \
    } while (0)

static void mixed_argument_types_match_glibc(void **state)
{
    (void)state;
    int local;
    MIXED("%s=%lld (%#x) %p %-*s|%c%%", "key", (long long)INT64_MIN, 255u, (void *)&local, 7, "ab", 'z');
    MIXED("%zu/%zd %td %jd %ju", SIZE_MAX, (ptrdiff_t)-1, (ptrdiff_t)INT64_MIN, (intmax_t)INT64_MIN,
          (uintmax_t)UINT64_MAX);
    MIXED("%hhu %hhd %hu %hd %lu %ld", 511, 200, 70000, 40000, (unsigned long)UINT64_MAX, (long)INT64_MIN);
/* Flags C says to ignore in these combinations, which gcc points out. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
    MIXED("%08.3d|%-8.3x|%+.0d|% .0d|%#.0o|%#.0x|%.0u", 5, 0xabcu, 0, 0, 0u, 0u, 0u);
    MIXED("%+d % d %+ d % +d %+05d % 05d %-+5d|", 1, 1, -1, 0, 42, 42, 42);
#pragma GCC diagnostic pop
    MIXED("%.*s|%-*.*s|%*c|%-*c|", 3, "abcdef", -6, 2, "xyz", -3, 'q', 4, 0);
    MIXED("%#o %#o %#.3o %#5o %#x %#X %#010x %-#10X|", 0u, 8u, 8u, 8u, 0u, 0xbeefu, 0xbeefu, 0xbeefu);
    MIXED("%llx %llX %llo %llu %lld %lli", (unsigned long long)UINT64_MAX, (unsigned long long)INT64_MIN,
          (unsigned long long)UINT64_MAX, (unsigned long long)UINT64_MAX, (long long)INT64_MAX, (long long)-1);
    MIXED("%d%s%d%s%p%c", INT32_MIN, "", INT32_MAX, "\xff\x80", (void *)(uintptr_t)UINT64_MAX, 0xe9);
    MIXED("%300d|%-300s|%.300u", 1, "x", 2u);
}

/* Formats C leaves undefined (unknown conversions, a directive cut short
 * by the end of the format, %n, which is not supported): xt prints
 * something of them, consistently at every size, and reads at most the
 * int arguments given. */
static const char *const odd_formats[] = {
    "%y",  "%5.3y", "%-#ly", "%",   "abc%", "%-",  "%05", "%.",  "%.5",   "%l",  "%hh",   "%ll", "%z",
    "%j",  "%t",    "%q%d",  "%L",  "%lf",  "%f",  "%e",  "%a",  "%g",    "%C",  "%S",    "%m",  "%*",
    "%.*", "%-*.*", "%n",    "%hn", "x%ny", "%5%", "%lc", "%*y", "%%%y%", "%hq", "%\xff", "%\t", "%0*.*",
};

static int run_odd(const void *ctx, char *buf, size_t size)
{
    const char *fmt = ctx;
    return xt_snprintf(buf, size, fmt, 1, 2, 3, 4);
}

static void undefined_formats_do_not_crash(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof odd_formats / sizeof odd_formats[0]; i++) {
        static char full[OUT_MAX];
        int n = run_odd(odd_formats[i], full, sizeof full);
        if (n < 0 || (size_t)n != strlen(full))
            fail_msg("\"%s\": returned %d for \"%s\"", odd_formats[i], n, full);
        char what[64];
        snprintf(what, sizeof what, "\"%s\"", odd_formats[i]);
        struct runner r = {run_odd, odd_formats[i], what};
        check_every_size(&r, full, (size_t)n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(single_directives_match_glibc),
        cmocka_unit_test(several_int_directives_match_glibc),
        cmocka_unit_test(several_long_long_directives_match_glibc),
        cmocka_unit_test(mixed_argument_types_match_glibc),
        cmocka_unit_test(undefined_formats_do_not_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
