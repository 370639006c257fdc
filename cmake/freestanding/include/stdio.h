/* Freestanding subset (see DESIGN.md §1): formatting into memory only. */
#ifndef TESSERA_FS_STDIO_H
#define TESSERA_FS_STDIO_H
#include <stdarg.h>
#include <stddef.h>
int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
#endif
