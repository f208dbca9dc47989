/* Fuzz target: the tracker's reader of stored component identifiers
 * (compid_from_cbor() in programs/common/compid.c; the tracker turns the CBOR ids of
 * reports into the text form a server's queries take).
 *
 * Invariants: an accepted input is exactly the canonical encoding of what was read (it
 * re-encodes to the same bytes), its text form parses back to the same identifier, and
 * every part lies inside the output's storage. */
#include <stdlib.h>
#include <string.h>

#include "compid.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct text_component_id id;
    if (!compid_from_cbor(secup_bytes_of(data, size), &id))
        return 0;
    if (id.id.n_parts == 0 || id.id.n_parts > SECUP_MAX_ID_PARTS)
        fuzz_common_fail("accepted an identifier of %u parts", id.id.n_parts);
    for (uint32_t i = 0; i < id.id.n_parts; i++) {
        const struct secup_bytes *p = &id.id.parts[i];
        if (p->len == 0 || p->ptr < id.storage || p->ptr + p->len > id.storage + sizeof(id.storage))
            fuzz_common_fail("part %u lies outside the storage or is empty", i);
    }
    uint8_t out[600];
    size_t len = 0;
    struct secup_err err;
    if (secup_component_id_encode(&id.id, out, sizeof(out), &len, &err) != SECUP_OK ||
        len != size || memcmp(out, data, size) != 0)
        fuzz_common_fail("an accepted identifier does not re-encode to its input");
    char text[2048];
    struct text_component_id back;
    if (compid_format(&id.id, text, sizeof(text))) {
        if (compid_parse(text, &back, &err) != SECUP_OK || !secup_component_id_equal(&back.id, &id.id))
            fuzz_common_fail("the text form '%s' does not parse back to the identifier", text);
    }
    return 0;
}
