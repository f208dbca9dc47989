/* secup — the checks a device makes before it acts on a manifest, and SUIT identifiers. */
#ifndef SECUP_POLICY_H
#define SECUP_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "secup/cose.h"
#include "secup/manifest.h"

#define SECUP_UUID_STR_LEN 36

/* Name-based UUID, version 5 (SHA-1), of name in namespace ns. */
SECUP_API SECUP_NODISCARD secup_rc secup_uuid5(const uint8_t ns[16], struct secup_bytes name,
                                               uint8_t out[16], struct secup_err *err);
/* vendor-id = UUID5(DNS namespace, domain) (manifest-37 section 8.4.8.1). */
SECUP_API SECUP_NODISCARD secup_rc secup_vendor_id(const char *domain, uint8_t out[16],
                                                   struct secup_err *err);
/* class-id = UUID5(vendor-id, class name). */
SECUP_API SECUP_NODISCARD secup_rc secup_class_id(const uint8_t vendor_id[16], const char *name,
                                                  uint8_t out[16], struct secup_err *err);
/* Formats as 8-4-4-4-12 lower-case hex into out (at least 37 bytes). */
SECUP_API void secup_uuid_format(const uint8_t uuid[16], char out[SECUP_UUID_STR_LEN + 1]);
/* Parses 8-4-4-4-12 hex; false when malformed. */
SECUP_API bool secup_uuid_parse(const char *s, uint8_t out[16]);

/* What a device knows about itself. */
struct secup_device_policy {
    uint8_t vendor_id[16];
    uint8_t class_id[16];
    uint64_t sequence_floor; /* the installed sequence number: a manifest must exceed it */
};

/* The device's decision on a decoded envelope, in this order:
 *  1. authentic: secup_envelope_verify() with the trust anchors;
 *  2. meant for this device: the shared sequence checks the vendor-identifier and
 *     class-identifier conditions for every component, against parameters equal to the
 *     device's identifiers (SECUP_E_VENDOR, SECUP_E_CLASS when absent or different);
 *  3. newer: sequence number greater than the floor (SECUP_E_ROLLBACK).
 * info may be NULL. Fails closed. */
SECUP_API SECUP_NODISCARD secup_rc secup_policy_check(const struct secup_envelope *env,
                                                      const struct secup_trust *trust,
                                                      const struct secup_device_policy *dev,
                                                      struct secup_verify_info *info,
                                                      struct secup_err *err);

/* Who a manifest is for: the vendor and class identifiers that the shared sequence's
 * vendor-identifier and class-identifier conditions check for `component` (what a server
 * indexes an image by). SECUP_E_VENDOR / SECUP_E_CLASS when no condition checks one (a
 * device would refuse the manifest), SECUP_E_VALUE when two conditions check different
 * values or the component does not exist. Does not authenticate anything. */
SECUP_API SECUP_NODISCARD secup_rc secup_manifest_audience(const struct secup_manifest *m,
                                                           uint32_t component,
                                                           uint8_t vendor_id[16],
                                                           uint8_t class_id[16],
                                                           struct secup_err *err);

#endif /* SECUP_POLICY_H */
