#include <stdbool.h>
#include <stdlib.h>

#include "alloc.h"

/* Test builds link tests/support/alloc_fail.c, whose strong definition of this hook makes
 * chosen allocations fail. The library itself keeps no state. */
__attribute__((weak)) bool secup_alloc_should_fail(size_t size);
__attribute__((weak)) bool secup_alloc_should_fail(size_t size)
{
    (void)size;
    return false;
}

void *secup_alloc(size_t size)
{
    if (secup_alloc_should_fail(size))
        return NULL;
    return calloc(1, size ? size : 1);
}

void secup_free(void *p)
{
    free(p);
}
