/* Freestanding subset (see DESIGN.md §1): what the portable layers may use. */
#ifndef TESSERA_FS_STDDEF_H
#define TESSERA_FS_STDDEF_H
typedef __SIZE_TYPE__ size_t;
typedef __PTRDIFF_TYPE__ ptrdiff_t;
typedef struct {
    long long ll __attribute__((aligned(__alignof__(long long))));
    long double ld __attribute__((aligned(__alignof__(long double))));
} max_align_t;
#define NULL                   ((void *)0)
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif
