/* The device-side acceptance policy: authentic, meant for this device, newer. */
#include <string.h>

#include "secup/policy.h"

struct walk {
    const struct secup_manifest *m;
    const struct secup_device_policy *dev;
    /* per component: the vendor/class parameter currently set, and whether a condition
     * has checked it against the device */
    struct secup_bytes vendor[SECUP_MAX_COMPONENTS];
    struct secup_bytes cls[SECUP_MAX_COMPONENTS];
    bool vendor_ok[SECUP_MAX_COMPONENTS];
    bool class_ok[SECUP_MAX_COMPONENTS];
    bool selected[SECUP_MAX_COMPONENTS];
    /* audience mode (dev == NULL): the values the conditions checked */
    struct secup_bytes checked_vendor[SECUP_MAX_COMPONENTS];
    struct secup_bytes checked_class[SECUP_MAX_COMPONENTS];
    secup_rc refusal;
    struct secup_err *err;
};

static void select_only(struct walk *w, uint64_t idx)
{
    memset(w->selected, 0, sizeof(w->selected));
    if (idx < SECUP_MAX_COMPONENTS)
        w->selected[idx] = true;
}

static void set_params(struct walk *w, const struct secup_command *c)
{
    for (uint32_t i = 0; i < c->count; i++) {
        const struct secup_param *p = &w->m->params[c->first + i];
        for (uint32_t k = 0; k < SECUP_MAX_COMPONENTS; k++) {
            if (!w->selected[k])
                continue;
            /* set-parameters (19) does not replace a value that is already set */
            bool keep = c->code == SECUP_SUIT_DIR_SET_PARAMETERS;
            if (p->key == SECUP_SUIT_PARAM_VENDOR_ID && p->value.kind == SECUP_VAL_BSTR &&
                !(keep && w->vendor[k].len))
                w->vendor[k] = p->value.bytes;
            if (p->key == SECUP_SUIT_PARAM_CLASS_ID && p->value.kind == SECUP_VAL_BSTR &&
                !(keep && w->cls[k].len))
                w->cls[k] = p->value.bytes;
        }
    }
}

/* Audience mode: records the value a condition checks; two conditions checking different
 * values for one component can never both hold on a device. */
static void record_condition(struct walk *w, uint32_t k, int64_t code)
{
    bool vendor = code == SECUP_SUIT_COND_VENDOR_ID;
    struct secup_bytes v = vendor ? w->vendor[k] : w->cls[k];
    struct secup_bytes *slot = vendor ? &w->checked_vendor[k] : &w->checked_class[k];
    bool *ok = vendor ? &w->vendor_ok[k] : &w->class_ok[k];
    if (v.len != 16) {
        if (w->refusal == SECUP_OK)
            w->refusal = secup_err_set(w->err, vendor ? SECUP_E_VENDOR : SECUP_E_CLASS,
                                       "component %u: the %s condition checks a value that is not a 16-byte UUID",
                                       k, vendor ? "vendor-identifier" : "class-identifier");
        return;
    }
    if (*ok && !secup_bytes_equal(*slot, v)) {
        if (w->refusal == SECUP_OK)
            w->refusal = secup_err_set(w->err, SECUP_E_VALUE,
                                       "component %u: two %s conditions check different values",
                                       k, vendor ? "vendor-identifier" : "class-identifier");
        return;
    }
    *slot = v;
    *ok = true;
}

static void check_condition(struct walk *w, int64_t code)
{
    for (uint32_t k = 0; k < SECUP_MAX_COMPONENTS; k++) {
        if (!w->selected[k])
            continue;
        if (!w->dev) {
            record_condition(w, k, code);
            continue;
        }
        if (code == SECUP_SUIT_COND_VENDOR_ID) {
            if (secup_bytes_equal(w->vendor[k], secup_bytes_of(w->dev->vendor_id, 16)))
                w->vendor_ok[k] = true;
            else if (w->refusal == SECUP_OK)
                w->refusal = secup_err_set(w->err, SECUP_E_VENDOR,
                                           "component %u: vendor identifier is not this device's", k);
        } else {
            if (secup_bytes_equal(w->cls[k], secup_bytes_of(w->dev->class_id, 16)))
                w->class_ok[k] = true;
            else if (w->refusal == SECUP_OK)
                w->refusal = secup_err_set(w->err, SECUP_E_CLASS,
                                           "component %u: class identifier is not this device's", k);
        }
    }
}

/* Follows the shared sequence (and run-sequence inside it) the way a processor would for
 * these two conditions. try-each alternatives are not credited: a check that only one
 * alternative makes does not prove the device matched. */
static void walk_seq(struct walk *w, uint32_t seq, unsigned depth)
{
    const struct secup_seq *s = &w->m->seqs[seq];
    if (depth > SECUP_MAX_SEQ_DEPTH)
        return;
    for (uint32_t i = 0; i < s->count; i++) {
        const struct secup_command *c = &w->m->commands[s->first + i];
        switch (c->code) {
        case SECUP_SUIT_DIR_SET_COMPONENT_INDEX:
            if (c->kind == SECUP_ARG_INDEX) {
                select_only(w, c->u);
            } else if (c->kind == SECUP_ARG_INDEX_ALL) {
                for (uint32_t k = 0; k < SECUP_MAX_COMPONENTS; k++)
                    w->selected[k] = k < w->m->n_components;
            } else {
                memset(w->selected, 0, sizeof(w->selected));
                for (uint32_t k = 0; k < c->count; k++) {
                    int64_t idx = w->m->ints[c->first + k];
                    if (idx >= 0 && idx < SECUP_MAX_COMPONENTS)
                        w->selected[idx] = true;
                }
            }
            break;
        case SECUP_SUIT_DIR_OVERRIDE_PARAMETERS:
        case SECUP_SUIT_DIR_SET_PARAMETERS:
            set_params(w, c);
            break;
        case SECUP_SUIT_COND_VENDOR_ID:
        case SECUP_SUIT_COND_CLASS_ID:
            check_condition(w, c->code);
            break;
        case SECUP_SUIT_DIR_RUN_SEQUENCE:
            walk_seq(w, c->first, depth + 1);
            break;
        default:
            break;
        }
    }
}

secup_rc secup_policy_check(const struct secup_envelope *env, const struct secup_trust *trust,
                            const struct secup_device_policy *dev, struct secup_verify_info *info,
                            struct secup_err *err)
{
    if (!env || !dev)
        return secup_err_set(err, SECUP_E_ARG, "no envelope or device policy");
    secup_rc rc = secup_envelope_verify(env, trust, info, err);
    if (rc != SECUP_OK)
        return rc;
    const struct secup_manifest *m = &env->manifest;
    if (m->n_components == 0)
        return secup_err_set(err, SECUP_E_POLICY, "the manifest names no component");
    if (!m->has_shared)
        return secup_err_set(err, SECUP_E_VENDOR,
                             "the manifest has no shared sequence, so no vendor or class check");

    struct walk *w = &(struct walk){ 0 };
    w->m = m;
    w->dev = dev;
    w->err = err;
    w->refusal = SECUP_OK;
    select_only(w, 0); /* the processor starts with component 0 selected */
    walk_seq(w, m->shared_seq, 0);
    if (w->refusal != SECUP_OK)
        return w->refusal;
    for (uint32_t k = 0; k < m->n_components; k++) {
        if (!w->vendor_ok[k])
            return secup_err_set(err, SECUP_E_VENDOR,
                                 "component %u: no vendor-identifier condition checks this device",
                                 k);
        if (!w->class_ok[k])
            return secup_err_set(err, SECUP_E_CLASS,
                                 "component %u: no class-identifier condition checks this device",
                                 k);
    }
    if (m->sequence_number <= dev->sequence_floor)
        return secup_err_set(err, SECUP_E_ROLLBACK,
                             "sequence number %llu is not greater than the installed %llu",
                             (unsigned long long)m->sequence_number,
                             (unsigned long long)dev->sequence_floor);
    return SECUP_OK;
}

secup_rc secup_manifest_audience(const struct secup_manifest *m, uint32_t component,
                                 uint8_t vendor_id[16], uint8_t class_id[16],
                                 struct secup_err *err)
{
    if (!m || !vendor_id || !class_id)
        return secup_err_set(err, SECUP_E_ARG, "no manifest or output");
    if (component >= m->n_components)
        return secup_err_set(err, SECUP_E_VALUE, "component %u does not exist", component);
    if (!m->has_shared)
        return secup_err_set(err, SECUP_E_VENDOR,
                             "the manifest has no shared sequence, so no vendor or class check");
    struct walk *w = &(struct walk){ 0 };
    w->m = m;
    w->err = err;
    w->refusal = SECUP_OK;
    select_only(w, 0);
    walk_seq(w, m->shared_seq, 0);
    if (w->refusal != SECUP_OK)
        return w->refusal;
    if (!w->vendor_ok[component])
        return secup_err_set(err, SECUP_E_VENDOR,
                             "component %u: no vendor-identifier condition", component);
    if (!w->class_ok[component])
        return secup_err_set(err, SECUP_E_CLASS,
                             "component %u: no class-identifier condition", component);
    memcpy(vendor_id, w->checked_vendor[component].ptr, 16);
    memcpy(class_id, w->checked_class[component].ptr, 16);
    return SECUP_OK;
}
