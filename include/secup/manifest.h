/* secup — the SUIT envelope and manifest model (draft-ietf-suit-manifest-37 with the
 * trust-domains, update-management and firmware-encryption extensions).
 *
 * secup_envelope_decode() fills a fixed-size model whose views point into the input
 * buffer (nothing is allocated; the input must outlive the model). Every sequence, command
 * and parameter lives in pools inside the manifest; ranges index into them.
 * secup_envelope_encode() writes the model back as deterministic CBOR: decoding and then
 * encoding a deterministic envelope gives the same bytes.
 */
#ifndef SECUP_MANIFEST_H
#define SECUP_MANIFEST_H

#include <stdbool.h>
#include <stdint.h>

#include "secup/bytes.h"
#include "secup/err.h"

/* Pool sizes of the model: exceeding one is an error with its own code. */
#define SECUP_MAX_COMPONENTS 16     /* SECUP_E_LIMIT_COMPONENTS */
#define SECUP_MAX_ID_PARTS 8        /* byte strings in one component identifier */
#define SECUP_MAX_DEPENDENCIES 8    /* SECUP_E_LIMIT_DEPENDENCIES */
#define SECUP_MAX_INTEGRATED 8      /* integrated payloads / dependencies */
#define SECUP_MAX_AUTH 4            /* SECUP_E_LIMIT_AUTH */
#define SECUP_MAX_COMMANDS 512      /* all commands of one manifest: SECUP_E_LIMIT_COMMANDS */
#define SECUP_MAX_SEQ_LEN 128       /* commands in one sequence: SECUP_E_LIMIT_COMMANDS */
#define SECUP_MAX_SEQS 128          /* nested sequences (try-each, run-sequence) */
#define SECUP_MAX_PARAMS 512        /* all parameters of one manifest: SECUP_E_LIMIT_PARAMS */
#define SECUP_MAX_MAP_PARAMS 64     /* parameters in one map: SECUP_E_LIMIT_PARAMS */
#define SECUP_MAX_INTS 128          /* integer lists (set-version, index lists) */
#define SECUP_MAX_TEXT 64           /* text entries: SECUP_E_LIMIT_TEXT */
#define SECUP_MAX_SEQ_DEPTH 6       /* try-each / run-sequence nesting: SECUP_E_LIMIT_DEPTH */
#define SECUP_MAX_CBOR_DEPTH 16     /* CBOR nesting anywhere: SECUP_E_LIMIT_DEPTH */

/* Runtime bounds; secup_limits_default() gives sensible values. */
struct secup_limits {
    size_t max_envelope;  /* whole envelope in bytes: SECUP_E_LIMIT_SIZE */
    size_t max_tstr;      /* any text string: SECUP_E_LIMIT_STRING */
    size_t max_bstr;      /* any byte string except integrated payloads: SECUP_E_LIMIT_BYTES */
    size_t max_items;     /* entries of any one array or map: SECUP_E_LIMIT_ITEMS */
};

SECUP_API struct secup_limits secup_limits_default(void);

/* SUIT command codes (SUIT.md section 2.5). */
enum {
    SECUP_SUIT_COND_VENDOR_ID = 1,
    SECUP_SUIT_COND_CLASS_ID = 2,
    SECUP_SUIT_COND_IMAGE_MATCH = 3,
    SECUP_SUIT_COND_USE_BEFORE = 4,
    SECUP_SUIT_COND_COMPONENT_SLOT = 5,
    SECUP_SUIT_COND_CHECK_CONTENT = 6,
    SECUP_SUIT_COND_DEPENDENCY_INTEGRITY = 7,
    SECUP_SUIT_COND_IS_DEPENDENCY = 8,
    SECUP_SUIT_DIR_PROCESS_DEPENDENCY = 11,
    SECUP_SUIT_DIR_SET_COMPONENT_INDEX = 12,
    SECUP_SUIT_COND_ABORT = 14,
    SECUP_SUIT_DIR_TRY_EACH = 15,
    SECUP_SUIT_DIR_WRITE = 18,
    SECUP_SUIT_DIR_SET_PARAMETERS = 19,
    SECUP_SUIT_DIR_OVERRIDE_PARAMETERS = 20,
    SECUP_SUIT_DIR_FETCH = 21,
    SECUP_SUIT_DIR_COPY = 22,
    SECUP_SUIT_DIR_INVOKE = 23,
    SECUP_SUIT_COND_DEVICE_ID = 24,
    SECUP_SUIT_COND_IMAGE_NOT_MATCH = 25,
    SECUP_SUIT_COND_MINIMUM_BATTERY = 26,
    SECUP_SUIT_COND_UPDATE_AUTHORIZED = 27,
    SECUP_SUIT_COND_VERSION = 28,
    SECUP_SUIT_DIR_WAIT = 29,
    SECUP_SUIT_DIR_SWAP = 31,
    SECUP_SUIT_DIR_RUN_SEQUENCE = 32,
    SECUP_SUIT_DIR_UNLINK = 33,
    SECUP_SUIT_DIR_OVERRIDE_MULTIPLE = 34,
    SECUP_SUIT_DIR_COPY_PARAMS = 35,
};

/* SUIT parameter keys (SUIT.md section 2.6). */
enum {
    SECUP_SUIT_PARAM_VENDOR_ID = 1,
    SECUP_SUIT_PARAM_CLASS_ID = 2,
    SECUP_SUIT_PARAM_IMAGE_DIGEST = 3,
    SECUP_SUIT_PARAM_USE_BEFORE = 4,
    SECUP_SUIT_PARAM_COMPONENT_SLOT = 5,
    SECUP_SUIT_PARAM_STRICT_ORDER = 12,
    SECUP_SUIT_PARAM_SOFT_FAILURE = 13,
    SECUP_SUIT_PARAM_IMAGE_SIZE = 14,
    SECUP_SUIT_PARAM_CONTENT = 18,
    SECUP_SUIT_PARAM_ENCRYPTION_INFO = 19,
    SECUP_SUIT_PARAM_URI = 21,
    SECUP_SUIT_PARAM_SOURCE_COMPONENT = 22,
    SECUP_SUIT_PARAM_INVOKE_ARGS = 23,
    SECUP_SUIT_PARAM_DEVICE_ID = 24,
    SECUP_SUIT_PARAM_FETCH_ARGS = 25,
    SECUP_SUIT_PARAM_MINIMUM_BATTERY = 26,
    SECUP_SUIT_PARAM_UPDATE_PRIORITY = 27,
    SECUP_SUIT_PARAM_VERSION = 28,
    SECUP_SUIT_PARAM_WAIT_INFO = 29,
    SECUP_SUIT_PARAM_COMPONENT_METADATA = 30,
};

/* Manifest sections that hold a command sequence or other severable/unseverable data. */
enum secup_section {
    SECUP_SECTION_VALIDATE,               /* manifest key 7 */
    SECUP_SECTION_LOAD,                   /* 8 */
    SECUP_SECTION_INVOKE,                 /* 9 */
    SECUP_SECTION_UNINSTALL,              /* 24 */
    SECUP_SECTION_DEPENDENCY_RESOLUTION,  /* 15, severable */
    SECUP_SECTION_PAYLOAD_FETCH,          /* 16, severable */
    SECUP_SECTION_CANDIDATE_VERIFICATION, /* 18, severable */
    SECUP_SECTION_INSTALL,                /* 20, severable */
    SECUP_SECTION_TEXT,                   /* 23, severable; not a command sequence */
    SECUP_SECTION_COSWID,                 /* 14, severable; opaque CoSWID */
    SECUP_SECTION_COUNT
};

SECUP_API const char *secup_section_name(enum secup_section s);
SECUP_API int64_t secup_section_key(enum secup_section s);
SECUP_API const char *secup_command_name(int64_t code);   /* "override-parameters"; NULL if unknown */
SECUP_API const char *secup_param_name(int64_t key);      /* "image-digest"; NULL if unknown */
/* True for the codes of SUIT conditions (as opposed to directives and custom commands). */
SECUP_API bool secup_command_is_condition(int64_t code);

struct secup_digest {
    int64_t alg;               /* COSE algorithm: -16 SHA-256 */
    struct secup_bytes bytes;
};

struct secup_component_id {
    uint32_t n_parts;
    struct secup_bytes parts[SECUP_MAX_ID_PARTS];
};

enum secup_value_kind {
    SECUP_VAL_NONE,
    SECUP_VAL_UINT,
    SECUP_VAL_NINT,  /* -1 - u */
    SECUP_VAL_BOOL,
    SECUP_VAL_NULL,
    SECUP_VAL_BSTR,  /* bytes (for bstr-wrapped parameters: the content) */
    SECUP_VAL_TSTR,
    SECUP_VAL_RAW,   /* any other well-formed CBOR item, kept as its encoding */
};

struct secup_value {
    enum secup_value_kind kind;
    uint64_t u;
    bool b;
    struct secup_bytes bytes;
};

struct secup_param {
    int64_t key;
    uint64_t index; /* override-multiple: component index; copy-params: source index */
    struct secup_value value;
};

enum secup_arg_kind {
    SECUP_ARG_POLICY,       /* reporting policy (u) */
    SECUP_ARG_PARAMS,       /* parameters [first, first+count) */
    SECUP_ARG_MULTI_PARAMS, /* override-multiple: parameters grouped by their index */
    SECUP_ARG_COPY_PARAMS,  /* copy-params: entries (index = source, key), values NONE */
    SECUP_ARG_SEQUENCE,     /* run-sequence: sequence `first` of the seqs pool */
    SECUP_ARG_TRY_EACH,     /* sequences [first, first+count) of the seqs pool, + try_each_nil */
    SECUP_ARG_INDEX,        /* set-component-index: u */
    SECUP_ARG_INDEX_ALL,    /* set-component-index: true */
    SECUP_ARG_INDEX_LIST,   /* set-component-index: ints [first, first+count) */
    SECUP_ARG_VALUE,        /* a custom command's argument */
};

struct secup_command {
    int64_t code;
    enum secup_arg_kind kind;
    uint64_t u;
    uint32_t first;
    uint32_t count;
    bool try_each_nil;
    struct secup_value value;
};

struct secup_seq {
    uint32_t first; /* in the commands pool */
    uint32_t count;
};

enum secup_member_state {
    SECUP_MEMBER_ABSENT,
    SECUP_MEMBER_PRESENT, /* in the manifest */
    SECUP_MEMBER_SEVERED, /* the manifest holds its digest; see `available` */
};

struct secup_member {
    enum secup_member_state state;
    bool available;            /* content known (in the manifest, or severed copy in envelope) */
    struct secup_digest digest;/* SEVERED only */
    struct secup_bytes content;/* the bstr content (a CBOR command sequence, text map, ...) */
    uint32_t seq;              /* command sections: index in the seqs pool */
};

struct secup_dependency {
    uint64_t index;
    bool has_prefix;
    struct secup_component_id prefix;
};

struct secup_text {
    struct secup_bytes lang;
    int32_t component;  /* -1: manifest-level entry; else index in text_ids */
    int64_t key;
    struct secup_bytes value;
};

struct secup_manifest {
    uint64_t version;
    uint64_t sequence_number;

    uint32_t n_components;
    struct secup_component_id components[SECUP_MAX_COMPONENTS];
    uint32_t n_dependencies;
    struct secup_dependency dependencies[SECUP_MAX_DEPENDENCIES];
    bool has_dependencies;       /* the dependencies map is present (even if empty) */
    bool has_components;
    bool has_shared;
    uint32_t shared_seq;         /* index in seqs */

    bool has_reference_uri;
    struct secup_bytes reference_uri;
    bool has_component_id;
    struct secup_component_id component_id;
    bool has_set_version;
    uint32_t set_version_first;  /* in ints */
    uint32_t set_version_count;

    struct secup_member members[SECUP_SECTION_COUNT];

    uint32_t n_text;
    struct secup_text text[SECUP_MAX_TEXT];
    uint32_t n_text_ids;
    struct secup_component_id text_ids[SECUP_MAX_COMPONENTS];

    /* pools */
    uint32_t n_seqs;
    struct secup_seq seqs[SECUP_MAX_SEQS];
    uint32_t n_commands;
    struct secup_command commands[SECUP_MAX_COMMANDS];
    uint32_t n_params;
    struct secup_param params[SECUP_MAX_PARAMS];
    uint32_t n_ints;
    int64_t ints[SECUP_MAX_INTS];
};

enum secup_auth_type {
    SECUP_AUTH_SIGN1 = 18, /* COSE_Sign1 tag */
    SECUP_AUTH_MAC0 = 17,  /* COSE_Mac0 tag */
};

struct secup_auth_block {
    enum secup_auth_type type;
    struct secup_bytes protected_hdr; /* bstr content: the encoded protected header map */
    struct secup_bytes unprotected;   /* the unprotected header map's encoding */
    bool has_payload;                 /* payload is normally nil (detached) */
    struct secup_bytes payload;
    struct secup_bytes tag;           /* signature or MAC */
    int64_t alg;                      /* from the protected header */
    struct secup_bytes kid;           /* key id, protected or unprotected; may be empty */
};

struct secup_integrated {
    struct secup_bytes name; /* "#..." text key */
    struct secup_bytes data; /* bstr content: a payload, or an encoded dependency envelope */
};

struct secup_envelope {
    bool tagged;                      /* CBOR tag 107 */
    struct secup_digest digest;       /* the manifest digest in the authentication wrapper */
    struct secup_bytes digest_bstr;   /* its encoding (element 0 of the wrapper, unwrapped) */
    uint32_t n_auth;
    struct secup_auth_block auth[SECUP_MAX_AUTH];
    struct secup_bytes manifest_wrapped; /* envelope key 3 as found: bstr head + content */
    struct secup_bytes manifest_bytes;   /* its content */
    uint32_t n_integrated;
    struct secup_integrated integrated[SECUP_MAX_INTEGRATED];
    struct secup_manifest manifest;
};

/* Decodes a SUIT envelope (tagged 107 or untagged). Severed members present in the
 * envelope are checked against their digests in the manifest (SECUP_E_DIGEST).
 * lim may be NULL for secup_limits_default().
 * Ownership: env's views point into `in`, which must outlive env.
 * Returns SECUP_OK, or a 2xx code naming the malformed or over-limit element. Does NOT
 * check the authentication: call secup_envelope_verify() for that. */
SECUP_API SECUP_NODISCARD secup_rc secup_envelope_decode(struct secup_envelope *env,
                                                         struct secup_bytes in,
                                                         const struct secup_limits *lim,
                                                         struct secup_err *err);

/* Decodes a bare SUIT_Manifest (optionally tagged 1070), e.g. the content of envelope key 3.
 * No severed member can be resolved here. */
SECUP_API SECUP_NODISCARD secup_rc secup_manifest_decode(struct secup_manifest *m,
                                                         struct secup_bytes in,
                                                         const struct secup_limits *lim,
                                                         struct secup_err *err);

/* Encodes the manifest as deterministic CBOR into buf (cap bytes); *len receives the size
 * needed. buf may be NULL to query the size (returns SECUP_E_BUF_SMALL with *len set). */
SECUP_API SECUP_NODISCARD secup_rc secup_manifest_encode(const struct secup_manifest *m,
                                                         uint8_t *buf, size_t cap, size_t *len,
                                                         struct secup_err *err);

/* Encodes the envelope, with its manifest encoded from the model, the authentication
 * wrapper from the model's blocks, severed members that are available, and integrated
 * payloads. Size query as for secup_manifest_encode(). */
SECUP_API SECUP_NODISCARD secup_rc secup_envelope_encode(const struct secup_envelope *env,
                                                         uint8_t *buf, size_t cap, size_t *len,
                                                         struct secup_err *err);

/* Decodes an encoded SUIT_Digest ([alg, bstr, *ext]). */
SECUP_API SECUP_NODISCARD secup_rc secup_digest_decode(struct secup_digest *d,
                                                       struct secup_bytes in,
                                                       struct secup_err *err);

/* Finds an integrated payload by its name ("#..."); false when absent. */
SECUP_API bool secup_envelope_find_integrated(const struct secup_envelope *env,
                                              struct secup_bytes name, struct secup_bytes *data);

/* What the manifest says about one component's image, gathered from the parameters the
 * shared sequence sets for it (override-parameters / set-parameters after the matching
 * set-component-index) and the uri the install or payload-fetch sequence sets. */
struct secup_image_info {
    bool has_digest;
    struct secup_digest digest;
    bool has_size;
    uint64_t size;
    bool has_uri;
    struct secup_bytes uri;
    bool has_encryption;            /* encryption-info parameter present */
    struct secup_bytes encryption_info;
    bool has_content;               /* content parameter (written by the write directive) */
    struct secup_bytes content;
    uint64_t compression;           /* custom parameter -257 (secup/stream.h); 0: none */
};

/* Fills info for component index `component`. SECUP_E_UNSUPPORTED when the values are
 * chosen inside try-each at install time (several candidates); SECUP_E_VALUE when the
 * component does not exist. */
SECUP_API SECUP_NODISCARD secup_rc secup_manifest_image_info(const struct secup_manifest *m,
                                                             uint32_t component,
                                                             struct secup_image_info *info,
                                                             struct secup_err *err);

/* The version text of a component, for people: its text component-version (key 6),
 * else the suit-set-version list joined with '.'; "" without either. */
SECUP_API void secup_manifest_version_text(const struct secup_manifest *m,
                                           const struct secup_component_id *id, char *out,
                                           size_t cap);

/* Checks data against a SUIT_Digest (SHA-256 only): SECUP_OK, SECUP_E_DIGEST, or
 * SECUP_E_UNSUPPORTED for another algorithm. */
SECUP_API SECUP_NODISCARD secup_rc secup_digest_check(const struct secup_digest *d,
                                                      struct secup_bytes data,
                                                      struct secup_err *err);

/* SHA-256 of data into out (32 bytes). */
SECUP_API SECUP_NODISCARD secup_rc secup_sha256(struct secup_bytes data, uint8_t out[32],
                                                struct secup_err *err);

/* Encodes a component identifier ([* bstr]) into buf; size query as elsewhere. */
SECUP_API SECUP_NODISCARD secup_rc secup_component_id_encode(const struct secup_component_id *id,
                                                             uint8_t *buf, size_t cap,
                                                             size_t *len, struct secup_err *err);

/* True when both component identifiers hold the same byte strings. */
SECUP_API bool secup_component_id_equal(const struct secup_component_id *a,
                                        const struct secup_component_id *b);

/* Initialises an empty manifest (version 1, no components). */
SECUP_API void secup_manifest_init(struct secup_manifest *m);

/* Builders for new manifests. They fail with the pool's limit code when it is full. */
SECUP_API SECUP_NODISCARD secup_rc secup_manifest_add_component(struct secup_manifest *m,
                                                                const struct secup_component_id *id,
                                                                struct secup_err *err);
/* Starts a new empty sequence in the pool; *seq receives its index. Commands appended
 * with secup_manifest_append_*() go to the most recently started sequence, so build one
 * sequence completely before starting the next. */
SECUP_API SECUP_NODISCARD secup_rc secup_manifest_begin_seq(struct secup_manifest *m,
                                                            uint32_t *seq, struct secup_err *err);
SECUP_API SECUP_NODISCARD secup_rc secup_manifest_append_policy(struct secup_manifest *m,
                                                                uint32_t seq, int64_t code,
                                                                uint64_t policy,
                                                                struct secup_err *err);
SECUP_API SECUP_NODISCARD secup_rc secup_manifest_append_index(struct secup_manifest *m,
                                                               uint32_t seq, uint64_t index,
                                                               struct secup_err *err);
/* Appends set-parameters (19) or override-parameters (20) with n parameters (copied). */
SECUP_API SECUP_NODISCARD secup_rc secup_manifest_append_params(struct secup_manifest *m,
                                                                uint32_t seq, int64_t code,
                                                                const struct secup_param *p,
                                                                size_t n, struct secup_err *err);
SECUP_API SECUP_NODISCARD secup_rc secup_manifest_add_text(struct secup_manifest *m,
                                                           struct secup_bytes lang,
                                                           const struct secup_component_id *id,
                                                           int64_t key, struct secup_bytes value,
                                                           struct secup_err *err);

/* Encodes a SUIT_Digest [alg, bytes] into buf (cap >= 48 for SHA-256); *len its size. */
SECUP_API SECUP_NODISCARD secup_rc secup_digest_encode(const struct secup_digest *d, uint8_t *buf,
                                                       size_t cap, size_t *len,
                                                       struct secup_err *err);

#endif /* SECUP_MANIFEST_H */
