/* The submission gate of secup-server. */
#ifndef SECUP_SERVER_GATE_H
#define SECUP_SERVER_GATE_H

#include "secup/bytes.h"
#include "secup/keys.h"
#include "server.h"

struct gate_in {
    const struct srv_config *cfg;
    const struct srv_principal *author;     /* authenticated, not banned */
    struct secup_bytes envelope;
    struct blob_writer *payload;            /* finished, or NULL */
    const struct secup_key *inspection_key; /* the server as a recipient, or NULL */
};

struct gate_out {
    bool flagged;     /* the scanner flagged it: img describes quarantined evidence */
    bool scanned;
    char reason[256];
};

/* Checks a submission: well-formed envelope; signature by the Author's registered key;
 * vendor and class conditions; the Author's grants for every component; a sequence
 * number above everything stored (or a new profile variant of the newest); payload size
 * and digest where the server can read the payload; the scanner. Fills img for the store.
 * Returns SECUP_OK, SECUP_E_FLAGGED (img filled, status quarantined), or the refusal. */
secup_rc gate_check(const struct gate_in *in, struct db *db, struct srv_image *img,
                    struct gate_out *out, struct secup_err *err);

#endif /* SECUP_SERVER_GATE_H */
