/* Countdown-driven allocation failures; see alloc_fail.h. Test-only state: the library
 * itself keeps none (STYLE.md section 5.10). */
#include "alloc_fail.h"

static struct {
    bool armed;
    bool triggered;
    size_t remaining;
    size_t calls;
} af;

bool secup_alloc_should_fail(size_t size)
{
    (void)size;
    af.calls++;
    if (!af.armed)
        return false;
    if (af.remaining > 0) {
        af.remaining--;
        return false;
    }
    af.armed = false;
    af.triggered = true;
    return true;
}

void alloc_fail_after(size_t n)
{
    af.armed = true;
    af.triggered = false;
    af.remaining = n;
    af.calls = 0;
}

void alloc_fail_reset(void)
{
    af.armed = false;
    af.triggered = false;
    af.remaining = 0;
    af.calls = 0;
}

bool alloc_fail_triggered(void)
{
    return af.triggered;
}

size_t alloc_fail_calls(void)
{
    return af.calls;
}
