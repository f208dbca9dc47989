/* secup-author: the Author role of X.secup-iot (builds, signs and checks SUIT packages). */
#ifndef SECUP_AUTHOR_H
#define SECUP_AUTHOR_H

#include <stdbool.h>
#include <stdint.h>

#include "compid.h"
#include "secup/encrypt.h"
#include "secup/secup.h"
#include "secup/stream.h"

#define AUTHOR_MAX_ENVELOPE (64u * 1024 * 1024)

int cmd_keygen(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);
int cmd_upload(int argc, char **argv);
int cmd_request(int argc, char **argv);
int cmd_sign(int argc, char **argv);

/* Component index's image-size and image-digest in m against the file at path. */
secup_rc author_check_image(const struct secup_manifest *m, uint32_t index, const char *path,
                           struct secup_err *err);

/* Reads an envelope file (bounded) and decodes it into a heap envelope.
 * Ownership: free *buf with secup_file_free(*buf, *len) and *env with free(). */
secup_rc author_load_envelope(const char *path, uint8_t **buf, size_t *len,
                              struct secup_envelope **env, struct secup_err *err);

/* Reads a key written as hex text (whitespace around it ignored) into out (cap bytes);
 * `what` describes it for the message. The text is wiped after use. */
secup_rc author_read_hex_key(const char *path, const char *what, uint8_t *out, size_t cap,
                             size_t *len, struct secup_err *err);

/* The same for key text already in memory (`name` for messages; the fuzz target
 * author_key). */
secup_rc author_parse_hex_key(const char *name, struct secup_bytes text, const char *what,
                              uint8_t *out, size_t cap, size_t *len, struct secup_err *err);

/* Loads an HMAC-SHA256 secret written as hex text (COSE_Mac0 signing or verifying). */
secup_rc author_load_hmac(const char *path, struct secup_key **out, struct secup_err *err);

/* A signing key named on the command line: a PEM file, or an HMAC secret in hex. */
struct author_key_ref {
    const char *path;
    bool hmac;
};

/* Refuses (SECUP_E_KEY_EXPOSED) a private key file that its group or others may read,
 * write or execute, and anything but a regular file (THREATS.md C12; no option overrides
 * it). */
secup_rc author_check_key_file(const char *path, struct secup_err *err);

/* Loads it (after author_check_key_file); PEM keys must hold the private part. */
secup_rc author_load_signing_key(const struct author_key_ref *ref, struct secup_key **out,
                                 struct secup_err *err);

/* As author_load_signing_key() on the file's text in memory, named `name` in messages
 * (PEM through the crypto seam's secup_key_parse_pem(); the fuzz target author_key). */
secup_rc author_parse_signing_key(const char *name, struct secup_bytes text, bool hmac,
                                  struct secup_key **out, struct secup_err *err);

/* Parses a release spec (`create --spec`) held in memory; `path` names it in messages and
 * is the directory relative image paths are taken from. Nothing is read but the text (the
 * images are opened later). On success *n_components is the number of components (the
 * fuzz target author_spec). */
secup_rc author_spec_parse(const char *path, const uint8_t *text, size_t len,
                           uint32_t *n_components, struct secup_err *err);

/* Options of create for encrypted or compressed payloads. */
struct author_enc_opts {
    const char *recipients[SECUP_MAX_RECIPIENTS]; /* --encrypt-for: P-256 / X25519 public keys */
    size_t n_recipients;
    const char *kek_path;                         /* --kek: hex AES-KW key */
    const char *kid;                              /* --kid */
    const char *profile;                          /* --profile: an MTI profile name */
    bool compress;                                /* --compress: zstd */
    const char *payload_out;                      /* --payload-out */
};

bool author_enc_active(const struct author_enc_opts *o);

/* Builds the payload of image_path into a new temporary file beside o->payload_out
 * (its name in tmp_path; the caller renames it into place once the envelope is written,
 * or unlinks it). sign_algs: the COSE algorithms of the signing keys, which a profile must
 * match. */
secup_rc author_payload_build(const struct author_enc_opts *o, const char *image_path,
                              const int64_t *sign_algs, size_t n_sign,
                              struct secup_payload_result *res, char *tmp_path, size_t tmp_cap,
                              struct secup_err *err);

#endif /* SECUP_AUTHOR_H */
