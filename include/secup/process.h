/* secup — the SUIT manifest processor: runs a manifest's command sequences against a
 * device's components (draft-ietf-suit-manifest-37 section 6 and 8.4; trust-domains and
 * update-management extensions).
 *
 * The processor keeps the parameters per component, follows set-component-index, try-each,
 * run-sequence and the soft-failure rules, evaluates the identity conditions itself, and
 * calls the device's operations (struct secup_proc_ops) for everything that touches
 * storage. What the conditions of the manifest state decides; nothing beside them. */
#ifndef SECUP_PROCESS_H
#define SECUP_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "secup/manifest.h"

/* Components a manifest can address: its own plus its dependencies (whose index may
 * exceed the component list, SUIT.md section 3 rule 5). */
#define SECUP_PROC_MAX_INDEX (SECUP_MAX_COMPONENTS + SECUP_MAX_DEPENDENCIES)
#define SECUP_PROC_MAX_PARAM 31 /* standard parameter keys 1..30 */
#define SECUP_PROC_MAX_CUSTOM 4 /* custom parameters kept per component */

/* The parameters currently set for one component. */
struct secup_proc_params {
    uint32_t index;                               /* the component (or dependency) index */
    bool is_dependency;                           /* index names a dependency, not a component */
    uint32_t set;                                 /* bit k: parameter k is set */
    struct secup_value v[SECUP_PROC_MAX_PARAM];   /* by parameter key */
    uint32_t n_custom;                            /* custom (negative) parameters set */
    int64_t custom_key[SECUP_PROC_MAX_CUSTOM];
    struct secup_value custom[SECUP_PROC_MAX_CUSTOM];
};

/* The value of custom parameter key for p, or NULL when it is not set. */
SECUP_API const struct secup_value *secup_proc_custom(const struct secup_proc_params *p,
                                                      int64_t key);

static inline bool secup_proc_has(const struct secup_proc_params *p, int64_t key)
{
    return key > 0 && key < SECUP_PROC_MAX_PARAM && (p->set & (UINT32_C(1) << key));
}

/* The device's side. Conditions return SECUP_OK when they hold, and a 3xx code (typically
 * SECUP_E_CONDITION, SECUP_E_DIGEST or SECUP_E_SIZE) when they do not; any other code is
 * a failure of the device (I/O, memory) and ends processing. A NULL operation makes the
 * command unsupported (SECUP_E_UNSUPPORTED). */
struct secup_proc_ops {
    secup_rc (*image_match)(void *ctx, const struct secup_proc_params *p, struct secup_err *err);
    secup_rc (*component_slot)(void *ctx, const struct secup_proc_params *p, uint64_t slot,
                               struct secup_err *err);
    secup_rc (*check_content)(void *ctx, const struct secup_proc_params *p, struct secup_err *err);
    secup_rc (*dependency_integrity)(void *ctx, const struct secup_proc_params *p,
                                     struct secup_err *err);
    secup_rc (*version)(void *ctx, const struct secup_proc_params *p, struct secup_err *err);
    secup_rc (*minimum_battery)(void *ctx, const struct secup_proc_params *p, struct secup_err *err);
    secup_rc (*update_authorized)(void *ctx, const struct secup_proc_params *p,
                                  struct secup_err *err);

    secup_rc (*fetch)(void *ctx, const struct secup_proc_params *p, struct secup_err *err);
    secup_rc (*write)(void *ctx, const struct secup_proc_params *p, struct secup_err *err);
    secup_rc (*copy)(void *ctx, const struct secup_proc_params *dst,
                     const struct secup_proc_params *src, struct secup_err *err);
    secup_rc (*swap)(void *ctx, const struct secup_proc_params *dst,
                     const struct secup_proc_params *src, struct secup_err *err);
    secup_rc (*invoke)(void *ctx, const struct secup_proc_params *p, struct secup_err *err);
    secup_rc (*unlink)(void *ctx, const struct secup_proc_params *p, struct secup_err *err);
    secup_rc (*wait)(void *ctx, const struct secup_proc_params *p, struct secup_err *err);
    secup_rc (*process_dependency)(void *ctx, const struct secup_proc_params *p,
                                   struct secup_err *err);
    /* custom commands (negative codes): their meaning is the device's; a failure the
     * device reports as a 3xx code is treated like a failed condition */
    secup_rc (*custom)(void *ctx, const struct secup_proc_params *p, int64_t code,
                       const struct secup_value *arg, struct secup_err *err);

    /* Optional: one record per executed command and component, for SUIT reports. */
    void (*record)(void *ctx, enum secup_section section, int64_t code, uint32_t component,
                   uint64_t policy, secup_rc result);
};

/* Who the device is, for the identity conditions, and what time it trusts. */
struct secup_proc_identity {
    struct secup_bytes vendor_ids[4];  /* a device may match several (manifest-37 8.4.8.1) */
    size_t n_vendor_ids;
    struct secup_bytes class_ids[4];
    size_t n_class_ids;
    struct secup_bytes device_id;      /* empty: the device-identifier condition fails */
    uint64_t now;                      /* secure time for use-before; 0: unknown (fails) */
};

/* Processor state: parameters of every component. Visible so that the agent can keep it
 * in static storage; the fields are private. */
struct secup_processor {
    const struct secup_manifest *m;
    const struct secup_proc_ops *ops;
    void *ctx;
    const struct secup_proc_identity *id;
    enum secup_section section;
    unsigned depth;
    unsigned long steps;
    struct secup_proc_params params[SECUP_PROC_MAX_INDEX];
};

/* Bound on commands executed in one secup_process() call (try-each and run-sequence can
 * multiply work): SECUP_E_LIMIT_COMMANDS beyond it. */
#define SECUP_PROC_MAX_STEPS 100000

/* Runs the shared sequence and then the given section of an authenticated manifest.
 * An absent section succeeds with nothing done; a severed one that the envelope does not
 * carry fails with SECUP_E_SEVERED. The first condition that does not hold (outside a
 * try-each alternative or a soft run-sequence) ends processing with its code, and the
 * message names the section, the command and the component. */
SECUP_API SECUP_NODISCARD secup_rc secup_process(struct secup_processor *proc,
                                                 const struct secup_manifest *m,
                                                 enum secup_section section,
                                                 const struct secup_proc_ops *ops, void *ctx,
                                                 const struct secup_proc_identity *id,
                                                 struct secup_err *err);

#endif /* SECUP_PROCESS_H */
