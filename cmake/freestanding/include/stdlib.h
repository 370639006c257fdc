/* Freestanding subset (see DESIGN.md §1): an allocator and nothing else. */
#ifndef TESSERA_FS_STDLIB_H
#define TESSERA_FS_STDLIB_H
#include <stddef.h>
void *malloc(size_t size);
void free(void *ptr);
#endif
