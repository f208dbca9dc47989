/* The SUIT manifest processor (manifest-37 sections 6.4, 8.4.8-8.4.10 and the abstract
 * machine of its command behaviour section).
 *
 * Failure classes: a condition that does not hold returns a 3xx code; inside a try-each
 * alternative (soft failure defaults to true) or a run-sequence with soft-failure set it
 * only ends that sequence. Anything else (a directive failing, a malformed use of a
 * parameter, an environment error) ends processing. */
#include <stdio.h>
#include <string.h>

#include "secup/process.h"
#include "util/alloc.h"

struct run {
    struct secup_processor *p;
    struct secup_err *err;
    bool soft;             /* soft-failure of the enclosing sequence */
    bool soft_settable;    /* inside try-each or run-sequence */
};

static bool is_refusal(secup_rc rc)
{
    return rc >= 300 && rc < 400;
}

static bool index_exists(const struct secup_manifest *m, uint64_t idx, bool *is_dep)
{
    *is_dep = false;
    if (idx < m->n_components)
        return true;
    for (uint32_t i = 0; i < m->n_dependencies; i++) {
        if (m->dependencies[i].index == idx) {
            *is_dep = true;
            return idx < SECUP_PROC_MAX_INDEX;
        }
    }
    return false;
}

/* The selection is a bit set over component indices. */
typedef uint32_t selection;

static secup_rc select_index(struct run *r, const struct secup_command *c, selection *sel)
{
    const struct secup_manifest *m = r->p->m;
    bool dep;
    *sel = 0;
    switch (c->kind) {
    case SECUP_ARG_INDEX:
        if (!index_exists(m, c->u, &dep))
            return secup_err_set(r->err, SECUP_E_VALUE,
                                 "set-component-index %llu: no such component or dependency",
                                 (unsigned long long)c->u);
        *sel = UINT32_C(1) << c->u;
        return SECUP_OK;
    case SECUP_ARG_INDEX_ALL:
        for (uint32_t i = 0; i < m->n_components; i++)
            *sel |= UINT32_C(1) << i;
        return SECUP_OK;
    case SECUP_ARG_INDEX_LIST:
        for (uint32_t i = 0; i < c->count; i++) {
            int64_t idx = m->ints[c->first + i];
            if (idx < 0 || !index_exists(m, (uint64_t)idx, &dep))
                return secup_err_set(r->err, SECUP_E_VALUE,
                                     "set-component-index list: no component %lld", (long long)idx);
            *sel |= UINT32_C(1) << idx;
        }
        return SECUP_OK;
    default:
        return secup_err_set(r->err, SECUP_E_VALUE, "set-component-index: bad argument");
    }
}

const struct secup_value *secup_proc_custom(const struct secup_proc_params *p, int64_t key)
{
    for (uint32_t i = 0; i < p->n_custom; i++) {
        if (p->custom_key[i] == key)
            return &p->custom[i];
    }
    return NULL;
}

/* Custom parameters (negative keys) belong to the device; a few are kept per component.
 * More than that is refused rather than dropped. */
static bool set_custom(struct secup_proc_params *pp, const struct secup_param *prm, bool keep)
{
    for (uint32_t i = 0; i < pp->n_custom; i++) {
        if (pp->custom_key[i] == prm->key) {
            if (!keep)
                pp->custom[i] = prm->value;
            return true;
        }
    }
    if (pp->n_custom >= SECUP_PROC_MAX_CUSTOM)
        return false;
    pp->custom_key[pp->n_custom] = prm->key;
    pp->custom[pp->n_custom++] = prm->value;
    return true;
}

static void set_param(struct secup_proc_params *pp, const struct secup_param *prm, bool keep)
{
    if (prm->key <= 0 || prm->key >= SECUP_PROC_MAX_PARAM)
        return;
    uint32_t bit = UINT32_C(1) << prm->key;
    if (keep && (pp->set & bit))
        return;
    pp->v[prm->key] = prm->value;
    pp->set |= bit;
}

static secup_rc apply_params(struct run *r, const struct secup_command *c, selection sel)
{
    struct secup_processor *p = r->p;
    const struct secup_manifest *m = p->m;
    for (uint32_t k = 0; k < c->count; k++) {
        const struct secup_param *prm = &m->params[c->first + k];
        if (prm->key == SECUP_SUIT_PARAM_SOFT_FAILURE) {
            /* soft-failure is a processor parameter, scoped to the enclosing sequence */
            if (!r->soft_settable)
                return secup_err_set(r->err, SECUP_E_VALUE,
                                     "soft-failure set outside try-each and run-sequence");
            if (c->code == SECUP_SUIT_DIR_OVERRIDE_PARAMETERS || !r->soft)
                r->soft = prm->value.b;
            continue;
        }
        if (c->kind == SECUP_ARG_MULTI_PARAMS) {
            bool dep;
            if (!index_exists(m, prm->index, &dep))
                return secup_err_set(r->err, SECUP_E_VALUE,
                                     "override-multiple: no component %llu",
                                     (unsigned long long)prm->index);
            set_param(&p->params[prm->index], prm, false);
            continue;
        }
        for (uint32_t i = 0; i < SECUP_PROC_MAX_INDEX; i++) {
            if (!(sel & (UINT32_C(1) << i)))
                continue;
            if (prm->key >= 0) {
                set_param(&p->params[i], prm, c->code == SECUP_SUIT_DIR_SET_PARAMETERS);
            } else if (!set_custom(&p->params[i], prm, c->code == SECUP_SUIT_DIR_SET_PARAMETERS)) {
                return secup_err_set(r->err, SECUP_E_LIMIT_PARAMS,
                                     "more than %d custom parameters for component %u",
                                     SECUP_PROC_MAX_CUSTOM, i);
            }
        }
    }
    return SECUP_OK;
}

static secup_rc copy_params(struct run *r, const struct secup_command *c, selection sel)
{
    struct secup_processor *p = r->p;
    const struct secup_manifest *m = p->m;
    for (uint32_t k = 0; k < c->count; k++) {
        const struct secup_param *prm = &m->params[c->first + k];
        bool dep;
        if (!index_exists(m, prm->index, &dep))
            return secup_err_set(r->err, SECUP_E_VALUE, "copy-params: no source component %llu",
                                 (unsigned long long)prm->index);
        if (prm->key <= 0 || prm->key >= SECUP_PROC_MAX_PARAM)
            continue;
        const struct secup_proc_params *src = &p->params[prm->index];
        if (!secup_proc_has(src, prm->key))
            continue;
        for (uint32_t i = 0; i < SECUP_PROC_MAX_INDEX; i++) {
            if (!(sel & (UINT32_C(1) << i)) || i == prm->index)
                continue;
            p->params[i].v[prm->key] = src->v[prm->key];
            p->params[i].set |= UINT32_C(1) << prm->key;
        }
    }
    return SECUP_OK;
}

static bool id_matches(const struct secup_value *v, const struct secup_bytes *ids, size_t n)
{
    if (v->kind != SECUP_VAL_BSTR && v->kind != SECUP_VAL_RAW)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (secup_bytes_equal(v->bytes, ids[i]))
            return true;
    }
    return false;
}

static secup_rc need(struct run *r, const struct secup_proc_params *pp, int64_t key,
                     const char *cmd)
{
    if (secup_proc_has(pp, key))
        return SECUP_OK;
    return secup_err_set(r->err, SECUP_E_MISSING, "%s on component %u: parameter %s is not set",
                         cmd, pp->index, secup_param_name(key));
}

static secup_rc op_missing(struct run *r, const char *name)
{
    return secup_err_set(r->err, SECUP_E_UNSUPPORTED, "%s is not supported by this device", name);
}

/* One command on one component. */
static secup_rc exec_one(struct run *r, const struct secup_command *c, uint32_t comp)
{
    struct secup_processor *p = r->p;
    const struct secup_proc_ops *ops = p->ops;
    const struct secup_proc_identity *id = p->id;
    struct secup_proc_params *pp = &p->params[comp];
    const char *name = secup_command_name(c->code);
    secup_rc rc;
#define OP(fn, ...) (ops->fn ? ops->fn(p->ctx, __VA_ARGS__, r->err) : op_missing(r, name))

    switch (c->code) {
    case SECUP_SUIT_COND_VENDOR_ID:
        rc = need(r, pp, SECUP_SUIT_PARAM_VENDOR_ID, name);
        if (rc == SECUP_OK && !id_matches(&pp->v[SECUP_SUIT_PARAM_VENDOR_ID], id->vendor_ids, id->n_vendor_ids))
            rc = secup_err_set(r->err, SECUP_E_VENDOR, "component %u: vendor identifier is not this device's", comp);
        return rc == SECUP_E_MISSING ? SECUP_E_VENDOR : rc;
    case SECUP_SUIT_COND_CLASS_ID:
        rc = need(r, pp, SECUP_SUIT_PARAM_CLASS_ID, name);
        if (rc == SECUP_OK && !id_matches(&pp->v[SECUP_SUIT_PARAM_CLASS_ID], id->class_ids, id->n_class_ids))
            rc = secup_err_set(r->err, SECUP_E_CLASS, "component %u: class identifier is not this device's", comp);
        return rc == SECUP_E_MISSING ? SECUP_E_CLASS : rc;
    case SECUP_SUIT_COND_DEVICE_ID:
        rc = need(r, pp, SECUP_SUIT_PARAM_DEVICE_ID, name);
        if (rc == SECUP_OK && !id_matches(&pp->v[SECUP_SUIT_PARAM_DEVICE_ID], &id->device_id, id->device_id.len ? 1 : 0))
            rc = secup_err_set(r->err, SECUP_E_CONDITION, "component %u: device identifier is not this device's", comp);
        return rc == SECUP_E_MISSING ? SECUP_E_CONDITION : rc;
    case SECUP_SUIT_COND_IMAGE_MATCH:
    case SECUP_SUIT_COND_IMAGE_NOT_MATCH:
        rc = need(r, pp, SECUP_SUIT_PARAM_IMAGE_DIGEST, name);
        if (rc != SECUP_OK)
            return rc;
        rc = OP(image_match, pp);
        if (c->code == SECUP_SUIT_COND_IMAGE_MATCH || !(rc == SECUP_OK || is_refusal(rc)))
            return rc;
        if (rc == SECUP_OK)
            return secup_err_set(r->err, SECUP_E_CONDITION, "component %u matches the image it must not match", comp);
        secup_err_clear(r->err);
        return SECUP_OK;
    case SECUP_SUIT_COND_USE_BEFORE:
        rc = need(r, pp, SECUP_SUIT_PARAM_USE_BEFORE, name);
        if (rc != SECUP_OK)
            return rc;
        if (id->now == 0)
            return secup_err_set(r->err, SECUP_E_CONDITION, "use-before: the device has no trusted time");
        if (id->now >= pp->v[SECUP_SUIT_PARAM_USE_BEFORE].u)
            return secup_err_set(r->err, SECUP_E_EXPIRED, "use-before: the manifest expired at %llu",
                                 (unsigned long long)pp->v[SECUP_SUIT_PARAM_USE_BEFORE].u);
        return SECUP_OK;
    case SECUP_SUIT_COND_COMPONENT_SLOT:
        rc = need(r, pp, SECUP_SUIT_PARAM_COMPONENT_SLOT, name);
        return rc != SECUP_OK ? rc : OP(component_slot, pp, pp->v[SECUP_SUIT_PARAM_COMPONENT_SLOT].u);
    case SECUP_SUIT_COND_CHECK_CONTENT:
        rc = need(r, pp, SECUP_SUIT_PARAM_CONTENT, name);
        return rc != SECUP_OK ? rc : OP(check_content, pp);
    case SECUP_SUIT_COND_DEPENDENCY_INTEGRITY:
        return pp->is_dependency ? OP(dependency_integrity, pp)
                                 : secup_err_set(r->err, SECUP_E_VALUE, "dependency-integrity on component %u, which is not a dependency", comp);
    case SECUP_SUIT_COND_IS_DEPENDENCY:
        return pp->is_dependency ? SECUP_OK
                                 : secup_err_set(r->err, SECUP_E_CONDITION, "component %u is not a dependency", comp);
    case SECUP_SUIT_COND_ABORT:
        return secup_err_set(r->err, SECUP_E_CONDITION, "the manifest aborts here");
    case SECUP_SUIT_COND_MINIMUM_BATTERY:
        rc = need(r, pp, SECUP_SUIT_PARAM_MINIMUM_BATTERY, name);
        return rc != SECUP_OK ? rc : OP(minimum_battery, pp);
    case SECUP_SUIT_COND_UPDATE_AUTHORIZED:
        return OP(update_authorized, pp);
    case SECUP_SUIT_COND_VERSION:
        rc = need(r, pp, SECUP_SUIT_PARAM_VERSION, name);
        return rc != SECUP_OK ? rc : OP(version, pp);
    case SECUP_SUIT_DIR_FETCH:
        rc = need(r, pp, SECUP_SUIT_PARAM_URI, name);
        return rc != SECUP_OK ? rc : OP(fetch, pp);
    case SECUP_SUIT_DIR_WRITE:
        rc = need(r, pp, SECUP_SUIT_PARAM_CONTENT, name);
        return rc != SECUP_OK ? rc : OP(write, pp);
    case SECUP_SUIT_DIR_COPY:
    case SECUP_SUIT_DIR_SWAP: {
        rc = need(r, pp, SECUP_SUIT_PARAM_SOURCE_COMPONENT, name);
        if (rc != SECUP_OK)
            return rc;
        uint64_t src = pp->v[SECUP_SUIT_PARAM_SOURCE_COMPONENT].u;
        bool dep;
        if (!index_exists(p->m, src, &dep) || src == comp)
            return secup_err_set(r->err, SECUP_E_VALUE, "%s on component %u: bad source component %llu",
                                 name, comp, (unsigned long long)src);
        if (c->code == SECUP_SUIT_DIR_COPY)
            return OP(copy, pp, &p->params[src]);
        return OP(swap, pp, &p->params[src]);
    }
    case SECUP_SUIT_DIR_INVOKE:
        return OP(invoke, pp);
    case SECUP_SUIT_DIR_UNLINK:
        return OP(unlink, pp);
    case SECUP_SUIT_DIR_WAIT:
        return OP(wait, pp);
    case SECUP_SUIT_DIR_PROCESS_DEPENDENCY:
        if (!pp->is_dependency)
            return secup_err_set(r->err, SECUP_E_VALUE, "process-dependency on component %u, which is not a dependency", comp);
        return OP(process_dependency, pp);
    default:
        if (c->code < 0)
            return ops->custom ? ops->custom(p->ctx, pp, c->code, &c->value, r->err)
                               : op_missing(r, "custom command");
        return secup_err_set(r->err, SECUP_E_UNSUPPORTED, "command %lld cannot be executed",
                             (long long)c->code);
    }
#undef OP
}

static secup_rc run_seq(struct run *r, uint32_t seq, selection *sel);

/* try-each: each alternative runs with soft failure true by default; the first that
 * completes wins. Parameters an abandoned alternative set are rolled back. */
static secup_rc try_each(struct run *r, const struct secup_command *c, selection *sel)
{
    struct secup_processor *p = r->p;
    secup_rc last = SECUP_E_CONDITION;
    struct secup_proc_params *saved = secup_alloc(sizeof(p->params));
    if (!saved)
        return secup_err_set(r->err, SECUP_E_NOMEM, "no memory for try-each");
    memcpy(saved, p->params, sizeof(p->params));
    for (uint32_t a = 0; a < c->count; a++) {
        struct run sub = { p, r->err, true, true };
        selection s = *sel;
        secup_rc rc = run_seq(&sub, c->first + a, &s);
        if (rc == SECUP_OK) {
            *sel = s;
            secup_free(saved);
            return SECUP_OK;
        }
        memcpy(p->params, saved, sizeof(p->params));
        if (!is_refusal(rc) || !sub.soft) {
            secup_free(saved);
            return rc; /* a directive failed, or the alternative made its failures hard */
        }
        last = rc;
    }
    secup_free(saved);
    if (c->try_each_nil) {
        secup_err_clear(r->err);
        return SECUP_OK;
    }
    secup_err_prefix(r->err, "try-each: no alternative applies (last)");
    return last;
}

static secup_rc exec_command(struct run *r, const struct secup_command *c, selection *sel)
{
    struct secup_processor *p = r->p;
    if (++p->steps > SECUP_PROC_MAX_STEPS)
        return secup_err_set(r->err, SECUP_E_LIMIT_COMMANDS, "more than %d commands executed",
                             SECUP_PROC_MAX_STEPS);
    switch (c->code) {
    case SECUP_SUIT_DIR_SET_COMPONENT_INDEX:
        return select_index(r, c, sel);
    case SECUP_SUIT_DIR_SET_PARAMETERS:
    case SECUP_SUIT_DIR_OVERRIDE_PARAMETERS:
    case SECUP_SUIT_DIR_OVERRIDE_MULTIPLE:
        return apply_params(r, c, *sel);
    case SECUP_SUIT_DIR_COPY_PARAMS:
        return copy_params(r, c, *sel);
    case SECUP_SUIT_DIR_TRY_EACH:
    case SECUP_SUIT_DIR_RUN_SEQUENCE: {
        /* with several components selected, the nested sequence runs once for each */
        selection all = *sel;
        for (uint32_t i = 0; i < SECUP_PROC_MAX_INDEX; i++) {
            if (!(all & (UINT32_C(1) << i)))
                continue;
            selection one = UINT32_C(1) << i;
            secup_rc rc;
            if (c->code == SECUP_SUIT_DIR_TRY_EACH) {
                rc = try_each(r, c, &one);
            } else {
                struct run sub = { p, r->err, false, true };
                rc = run_seq(&sub, c->first, &one);
                if (rc != SECUP_OK && is_refusal(rc) && sub.soft) {
                    secup_err_clear(r->err);
                    rc = SECUP_OK; /* a soft run-sequence just halts */
                }
            }
            if (rc != SECUP_OK)
                return rc;
        }
        return SECUP_OK;
    }
    default:
        break;
    }
    for (uint32_t i = 0; i < SECUP_PROC_MAX_INDEX; i++) {
        if (!(*sel & (UINT32_C(1) << i)))
            continue;
        secup_rc rc = exec_one(r, c, i);
        if (p->ops->record)
            p->ops->record(p->ctx, p->section, c->code, i, c->kind == SECUP_ARG_POLICY ? c->u : 0, rc);
        if (rc != SECUP_OK) {
            const char *name = secup_command_name(c->code);
            secup_err_prefix(r->err, "%s %s (component %u)",
                             secup_command_is_condition(c->code) ? "condition" : "directive",
                             name ? name : "custom", i);
            return rc;
        }
    }
    return SECUP_OK;
}

static secup_rc run_seq(struct run *r, uint32_t seq, selection *sel)
{
    struct secup_processor *p = r->p;
    if (p->depth >= SECUP_MAX_SEQ_DEPTH + 1)
        return secup_err_set(r->err, SECUP_E_LIMIT_DEPTH, "command sequences nested too deep");
    p->depth++;
    const struct secup_seq *s = &p->m->seqs[seq];
    secup_rc rc = SECUP_OK;
    for (uint32_t i = 0; i < s->count && rc == SECUP_OK; i++) {
        const struct secup_command *c = &p->m->commands[s->first + i];
        rc = exec_command(r, c, sel);
        /* a failed condition with soft failure set ends this sequence only; the caller
         * (try-each / run-sequence) decides what that means */
    }
    p->depth--;
    return rc;
}

secup_rc secup_process(struct secup_processor *proc, const struct secup_manifest *m,
                       enum secup_section section, const struct secup_proc_ops *ops, void *ctx,
                       const struct secup_proc_identity *id, struct secup_err *err)
{
    if (!proc || !m || !ops || !id || (unsigned)section >= SECUP_SECTION_COUNT ||
        section == SECUP_SECTION_TEXT || section == SECUP_SECTION_COSWID)
        return secup_err_set(err, SECUP_E_ARG, "secup_process: bad arguments");
    memset(proc, 0, sizeof(*proc));
    proc->m = m;
    proc->ops = ops;
    proc->ctx = ctx;
    proc->id = id;
    proc->section = section;
    for (uint32_t i = 0; i < SECUP_PROC_MAX_INDEX; i++) {
        bool dep;
        proc->params[i].index = i;
        proc->params[i].is_dependency = index_exists(m, i, &dep) && dep;
    }
    const struct secup_member *mem = &m->members[section];
    if (mem->state == SECUP_MEMBER_SEVERED && !mem->available)
        return secup_err_set(err, SECUP_E_SEVERED, "%s is severed and the envelope does not carry it",
                             secup_section_name(section));
    if (mem->state == SECUP_MEMBER_ABSENT)
        return SECUP_OK;
    struct run r = { proc, err, false, false };
    selection sel = 1; /* component index 0 at the start of each sequence */
    secup_rc rc = SECUP_OK;
    if (m->has_shared) {
        rc = run_seq(&r, m->shared_seq, &sel);
        if (rc != SECUP_OK) {
            secup_err_prefix(err, "shared sequence");
            return rc;
        }
    }
    sel = 1;
    rc = run_seq(&r, mem->seq, &sel);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "%s", secup_section_name(section));
    return rc;
}
