/* Allocation-failure injection for the sweeps of STYLE.md section 9.6 [curl torture].
 *
 * Linking alloc_fail.c into a test replaces the weak secup_alloc_should_fail() of
 * lib/util/alloc.c with one driven by a countdown. While disarmed (the initial state, and
 * after alloc_fail_reset()) no allocation fails, so the hook changes nothing for a test
 * that never arms it. */
#ifndef SECUP_TEST_ALLOC_FAIL_H
#define SECUP_TEST_ALLOC_FAIL_H

#include <stdbool.h>
#include <stddef.h>

/* The hook lib/util/alloc.c consults before every secup_alloc(). */
bool secup_alloc_should_fail(size_t size);

/* Arms the countdown: the next n allocations succeed, the one after fails, and then the
 * countdown disarms itself (exactly one allocation fails per arming). */
void alloc_fail_after(size_t n);

/* Disarms the countdown and clears the counters. */
void alloc_fail_reset(void);

/* True once the armed allocation has been refused. */
bool alloc_fail_triggered(void);

/* Allocations seen since the last alloc_fail_after() or alloc_fail_reset(). */
size_t alloc_fail_calls(void);

#endif /* SECUP_TEST_ALLOC_FAIL_H */
