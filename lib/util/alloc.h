/* Heap use of libsecup goes through these two calls so that tests can fail the Nth
 * allocation (STYLE.md section 5.11). */
#ifndef SECUP_UTIL_ALLOC_H
#define SECUP_UTIL_ALLOC_H

#include <stddef.h>

void *secup_alloc(size_t size);   /* zero-filled; NULL on failure */
void secup_free(void *p);

#endif /* SECUP_UTIL_ALLOC_H */
