/* Character classes of RFC 9110 §5.6 (tokens, field values), shared by the
 * request parser, the client and the response setters. Private to http/. */
#ifndef TESSERA_HTTP_CHARS_H
#define TESSERA_HTTP_CHARS_H

#include <stdbool.h>
#include <stdint.h>

/* tchar: "!#$%&'*+-.^_`|~", digits and letters. */
static inline bool http__is_tchar(uint8_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

/* field-vchar or obs-text, or the whitespace allowed inside a value. */
static inline bool http__is_value_char(uint8_t c)
{
    return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

static inline uint8_t http__lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Case-insensitive comparison of a counted string with a C string. */
static inline bool http__eq_nocase(const char *s, size_t len, const char *lit)
{
    size_t i = 0;
    for (; i < len && lit[i]; i++)
        if (http__lower((uint8_t)s[i]) != http__lower((uint8_t)lit[i]))
            return false;
    return i == len && lit[i] == '\0';
}

/* 0-15, or -1 for a byte that is not a hex digit. */
static inline int http__hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = http__lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

#endif
