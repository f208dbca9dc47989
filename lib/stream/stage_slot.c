/* The slot writer stage: positioned writes into the (inactive) slot and a sync at finish.
 * It never decides validity: the pipeline marks the install complete only after every
 * stage's finish, this one last. */
#include <string.h>

#include "stages.h"

static secup_rc slot_write(struct secup_stage *base, struct secup_bytes in, struct secup_err *err)
{
    struct secup_stage_slot *st = (struct secup_stage_slot *)base;
    if (in.len > st->slot->capacity || st->offset > st->slot->capacity - in.len)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "slot of %llu bytes is full",
                             (unsigned long long)st->slot->capacity);
    secup_rc rc = st->slot->ops->write(st->slot, st->offset, in, err);
    if (rc != SECUP_OK)
        return rc;
    st->offset += in.len;
    return SECUP_OK;
}

static secup_rc slot_finish(struct secup_stage *base, struct secup_err *err)
{
    struct secup_stage_slot *st = (struct secup_stage_slot *)base;
    return st->slot->ops->sync(st->slot, err);
}

static void slot_abort(struct secup_stage *base)
{
    (void)base;
}

static const struct secup_stage_ops slot_ops = {
    .name = "slot",
    .write = slot_write,
    .finish = slot_finish,
    .abort = slot_abort,
};

void secup_stage_slot_init(struct secup_stage_slot *st, struct secup_slot *slot)
{
    memset(st, 0, sizeof(*st));
    st->base.ops = &slot_ops;
    st->slot = slot;
}
