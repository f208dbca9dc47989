/* secup-agent: the Firmware Consumer on the device (X.secup-iot section 11.1). */
#ifndef SECUP_AGENT_H
#define SECUP_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "compid.h"
#include "secup/secup.h"

#define AGENT_MAX_COMPONENTS 8
#define AGENT_MAX_ANCHORS 8          /* in the configuration */
#define AGENT_MAX_ALL_ANCHORS 16     /* configured + rotated in (trust.h) */
#define AGENT_NAME_MAX 64
#define AGENT_PATH_MAX 1024
#define AGENT_MAX_ARGV 16
#define AGENT_MAX_KEKS 4
#define AGENT_KID_MAX 65             /* a kid of 1 to 64 bytes, and its NUL */

/* A pre-shared AES key-encryption key (A128KW with 16 bytes, A256KW with 32): payloads
 * encrypted for its kid are decrypted with it. Only the path is kept; the key is read
 * when an install needs it and wiped afterwards. */
struct agent_kek {
    char kid[AGENT_KID_MAX];
    char key_path[AGENT_PATH_MAX];
};

struct agent_anchor {
    char name[AGENT_NAME_MAX];
    char key_path[AGENT_PATH_MAX]; /* configured anchors: the public key file */
    const char *pem;              /* rotated-in anchors: the key (PEM text), else NULL */
    uint32_t components;          /* bit i: may sign for component i */
    bool rotate;                  /* may sign trust-anchor updates (docs/agent.md) */
    bool retired;                 /* retired by a rotation: installs nothing any more */
};

struct agent_component {
    char name[AGENT_NAME_MAX];     /* short name: state, boot variables, status */
    struct text_component_id id;   /* SUIT component identifier */
    char slot_path[2][AGENT_PATH_MAX];
    char slot_type[16];            /* "file" or "blockdev" */
    uint64_t slot_size;            /* capacity of each slot (file slots) */
    bool staging;                  /* scratch storage of an install: a copy source, never
                                    * committed, booted or confirmed (docs/agent.md) */
    uint32_t threshold;            /* distinct authorised anchors whose signatures must
                                    * verify (k of n; default 1, docs/agent.md) */
};

/* The online mode (`secup-agent run`, programs/agent/online.c): the "tracker" and
 * "server" sections of the configuration (docs/agent.md). */
#define AGENT_URL_MAX 1024
struct agent_online_config {
    bool tracker;                       /* a "tracker" section is present */
    char tracker_url[AGENT_URL_MAX];
    char tracker_id[AGENT_NAME_MAX];    /* the issuer id every command must carry */
    char tracker_key[AGENT_PATH_MAX];   /* its public signing key: commands verify with it */
    char tracker_ca[AGENT_PATH_MAX];    /* "" : the system store */
    char enrolment_token_file[AGENT_PATH_MAX];
    uint32_t poll_wait;                 /* seconds of a long poll (0: a short poll) */
    uint32_t poll_interval;             /* seconds between polls after a quiet one (0: none) */
    /* "poll now": a listener for commands the tracker POSTs (tracker.listen) */
    char listen_addr[128];              /* "" : no listener */
    char listen_cert[AGENT_PATH_MAX];   /* "" : state-dir/listen-cert.pem, made at first start */
    char listen_key[AGENT_PATH_MAX];
    char callback_url[AGENT_URL_MAX];   /* "" : https://HOST:PORT/v1/command of listen_addr;
                                         * "{port}" is replaced by the bound port */
    uint32_t report_interval;           /* seconds between unprompted reports */
    char server_url[AGENT_URL_MAX];     /* "" : any; else the server token goes only here */
    char server_token_file[AGENT_PATH_MAX];
    char server_ca[AGENT_PATH_MAX];
    uint32_t retry_initial;             /* seconds: first back-off, doubled up to retry_max */
    uint32_t retry_max;
    uint32_t attempts;                  /* downloads tried per command */
    uint32_t low_speed_time;            /* seconds below low_speed_limit before a transfer aborts */
    uint32_t low_speed_limit;           /* bytes per second (THREATS.md T9) */
    uint32_t transfer_timeout;          /* seconds one transfer may take; 0: no limit */
};

struct agent_config {
    char path[AGENT_PATH_MAX];     /* the configuration file itself */
    char device_id[AGENT_NAME_MAX];
    char device_key[AGENT_PATH_MAX];
    uint32_t n_keks;
    struct agent_kek keks[AGENT_MAX_KEKS];
    char vendor_domain[256];
    char class_name[256];
    uint8_t vendor_id[16];
    uint8_t class_id[16];
    char state_dir[AGENT_PATH_MAX];
    char boot_type[16];            /* statefile | uboot | grub */
    char boot_path[AGENT_PATH_MAX];
    char *health_argv[AGENT_MAX_ARGV + 1];
    char health_storage[2048];
    uint32_t health_timeout;       /* seconds */
    uint32_t boot_attempts;        /* trial boots before fallback */
    uint64_t max_envelope;
    uint32_t n_anchors;
    struct agent_anchor anchors[AGENT_MAX_ANCHORS];
    uint32_t n_components;
    struct agent_component components[AGENT_MAX_COMPONENTS];
    struct agent_online_config online;
    /* the secure counter (RPMB/OTP stand-in, docs/agent.md): "" none; else a small file
     * outside the state directory holding the highest state generation ever saved */
    char counter_path[AGENT_PATH_MAX];
    uint32_t max_failures;         /* failed attempts at one manifest before giving up */
};

/* Loads and validates the JSON configuration (docs/agent.md). Every problem is reported
 * with the file, the key and what was wrong (SECUP_E_JSON, SECUP_E_VALUE, ...). */
secup_rc agent_config_load(struct agent_config *cfg, const char *path, struct secup_err *err);
/* Parses configuration text (for tests and fuzzing); base names the file in messages and
 * resolves relative paths. */
secup_rc agent_config_parse(struct agent_config *cfg, const char *text, size_t len,
                            const char *base, struct secup_err *err);
/* The SUIT component identifier reserved for trust-anchor updates (text form): a manifest
 * for it carries a trust-update document instead of an image (trust.h). */
#define AGENT_TRUST_COMPONENT "secup/trust-anchors"
bool agent_is_trust_component(const struct secup_component_id *id);

/* Index of the component with this SUIT identifier, or -1. */
int agent_config_find_component(const struct agent_config *cfg,
                                const struct secup_component_id *id);

#endif /* SECUP_AGENT_H */
