/* secup-server: the Firmware Server (X.secup-iot §11.3). Module interfaces. */
#ifndef SECUP_SERVER_H
#define SECUP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "db/db.h"
#include "http/ratelimit.h"
#include "secup/err.h"
#include "secup/keys.h"

#define SRV_PATH 4096
#define SRV_ID_MAX 64          /* principal names: [A-Za-z0-9._-], 1..64 */
#define SRV_HEX_ID 65          /* 64 hex digits + NUL */
#define SRV_SCANNER_ARGS 16

/* ---- configuration (config.c): DIR/server.json ---- */

/* Request classes of http.rate-limits (routes.c names each request's class). */
enum srv_rate_class { SRV_RATE_DOWNLOAD, SRV_RATE_UPLOAD, SRV_RATE_OTHER, SRV_RATE_CLASSES };

struct srv_config {
    char dir[SRV_PATH];
    char file[SRV_PATH];
    char id[SRV_ID_MAX + 1];         /* server id: kid of its notifications */
    char listen[128];
    char cert[SRV_PATH];             /* TLS; both empty: plain HTTP */
    char key[SRV_PATH];
    char client_ca[SRV_PATH];        /* optional mutual TLS */
    char db_url[SRV_PATH];
    char blobs[SRV_PATH];
    char signing_key[SRV_PATH];      /* signs notifications */
    char inspection_key[SRV_PATH];   /* optional: the server as a recipient of payloads */
    uint64_t max_envelope;
    uint64_t max_payload;
    uint64_t storage_quota;          /* bytes of blobs; 0: only the disk's size */
    char *scanner[SRV_SCANNER_ARGS + 1];
    char scanner_buf[4096];
    uint64_t scanner_timeout;
    uint64_t ban_after;              /* flagged submissions before an Author is banned */
    uint64_t threads;
    uint64_t timeout;
    uint64_t connection_limit;
    uint64_t per_ip_limit;
    uint64_t cache_ttl_ms;           /* in-memory caches of principals and images; 0: off */
    uint64_t notify_retry_initial;
    uint64_t notify_retry_max;
    uint64_t upload_expiry;          /* seconds before a stale temporary upload is removed */
    char public_url[512];            /* how clients reach this server (notification URIs) */
    bool public_url_auto;            /* not configured: from the bound address */
    char notify_ca[SRV_PATH];        /* CA file for trackers' HTTPS callbacks (optional) */
    uint64_t min_rate;               /* bytes/s of request bodies and answer reads; 0: 64 */
    struct ratelimit_class rate[SRV_RATE_CLASSES]; /* per-source request limits */
    uint64_t rate_table;             /* sources tracked; 0: 16384 */
};

secup_rc srv_config_load(const char *dir, struct srv_config *cfg, struct secup_err *err);
/* The same from text (the fuzz target's entry). On failure cfg holds only the defaults. */
secup_rc srv_config_parse(const char *dir, const char *text, size_t len, struct srv_config *cfg,
                          struct secup_err *err);

struct srv_init_opts {
    const char *listen;
    const char *db_url;
    const char *id;
};
/* Creates DIR with server.json, a signing key, a self-signed TLS certificate, the blob
 * directory and the database schema. Refuses (SECUP_E_EXISTS) an existing server.json. */
secup_rc srv_init(const char *dir, const struct srv_init_opts *o, struct secup_err *err);

/* ---- blobs (blob.c): content-addressed files under blobs/sha256/xx/<hex> ---- */

struct blob_writer;

/* Starts a temporary file in blobs/tmp; at most max bytes. */
secup_rc blob_begin(const char *blobs, uint64_t max, struct blob_writer **out,
                    struct secup_err *err);
/* SECUP_E_LIMIT_BODY beyond max, SECUP_E_NOSPACE when the disk is full. */
secup_rc blob_write(struct blob_writer *w, const uint8_t *p, size_t n, struct secup_err *err);
/* fsyncs the data; afterwards blob_tmp_path() can be read and blob_digest() is final. */
secup_rc blob_finish(struct blob_writer *w, struct secup_err *err);
const char *blob_tmp_path(const struct blob_writer *w);
const char *blob_digest_hex(const struct blob_writer *w);
uint64_t blob_size(const struct blob_writer *w);
/* Moves the finished file to its content address (rename, fsync of the directory). An
 * existing identical blob is kept. */
secup_rc blob_commit(struct blob_writer *w, struct secup_err *err);
/* Removes an uncommitted temporary file; frees. NULL is a no-op. */
void blob_discard(struct blob_writer *w);
/* The path of a blob by its hex digest; false for a malformed digest. */
bool blob_path(const char *blobs, const char *hex, char *out, size_t cap);
/* Removes temporary files older than max_age seconds (crash leftovers). */
size_t blob_sweep_tmp(const char *blobs, uint64_t max_age); /* how many it removed */
/* Bytes used by blobs (for the quota). */
uint64_t blob_usage(const char *blobs);

/* ---- store (store.c): the schema and every query, on the db seam ---- */

secup_rc store_schema(struct db *db, struct secup_err *err);
/* Appends an audit record. */
secup_rc store_event(struct db *db, const char *actor, const char *action, const char *object,
                     const char *detail, struct secup_err *err);

enum srv_kind { SRV_AUTHOR = 1, SRV_DEVICE = 2, SRV_TRACKER = 3 };

struct srv_principal {
    char id[SRV_ID_MAX + 1];
    enum srv_kind kind;
    bool banned;
    int64_t flagged;
    char vendor[33];   /* devices: hex vendor id */
    char class_id[33]; /* devices: hex class id */
    char region[65];   /* devices: region attribute (may be empty) */
};

/* Finds the principal of a token by its hash (store_token_hash): SECUP_E_AUTH when
 * unknown. */
secup_rc store_principal_by_token_hash(struct db *db, const char *hash,
                                       struct srv_principal *p, struct secup_err *err);
/* The author's public key (PEM text). */
secup_rc store_author_key(struct db *db, const char *author, char *pem, size_t cap,
                          struct secup_err *err);

/* cert_sha256 (may be NULL): the SHA-256 of a client certificate that authenticates the
 * principal under mutual TLS. */
secup_rc store_principal_add(struct db *db, const struct srv_principal *p,
                             const char *token_hash, const char *key_pem,
                             const char *cert_sha256, struct secup_err *err);
/* The principal of a verified client certificate: SECUP_E_AUTH when unknown. */
secup_rc store_principal_by_cert(struct db *db, const char *sha256, struct srv_principal *p,
                                 struct secup_err *err);
secup_rc store_principal_get(struct db *db, const char *id, struct srv_principal *p,
                             struct secup_err *err);
/* Sets or clears the ban; SECUP_E_NOENT for an unknown Author. */
secup_rc store_set_banned(struct db *db, const char *id, bool banned, struct secup_err *err);
/* Counts a flagged submission; *count receives the new total. */
secup_rc store_flag(struct db *db, const char *id, int64_t *count, struct secup_err *err);
secup_rc store_principal_remove(struct db *db, const char *id, struct secup_err *err);
/* JSON array of principals of one kind (0: all). */
secup_rc store_principal_list(struct db *db, enum srv_kind kind, json_t **out,
                              struct secup_err *err);

/* Grants: what an Author may publish. class_id and component may be "*". */
secup_rc store_grant(struct db *db, const char *author, const char *vendor,
                     const char *class_id, const char *component, bool add,
                     struct secup_err *err);
/* SECUP_OK when a grant covers the triple, else SECUP_E_FORBIDDEN. */
secup_rc store_grant_check(struct db *db, const char *author, const char *vendor,
                           const char *class_id, const char *component, struct secup_err *err);

#define SRV_MAX_COMPONENTS 8

struct srv_image {
    char id[SRV_HEX_ID];          /* hex manifest digest */
    char author[SRV_ID_MAX + 1];
    char vendor[33];
    char class_id[33];
    int64_t seq;
    char version[129];
    char profile[64];
    char envelope_blob[SRV_HEX_ID];
    int64_t envelope_size;
    char payload_blob[SRV_HEX_ID]; /* empty: no detached payload */
    int64_t payload_size;
    int64_t image_size;
    bool encrypted;
    char status[16];               /* active, quarantined, removed */
    char reason[256];
    char regions_allow[256];       /* comma-separated; empty: any */
    char regions_deny[256];
    char nets_allow[512];          /* comma-separated CIDRs; empty: any */
    char nets_deny[512];
    int64_t created;
    uint32_t n_components;
    char components[SRV_MAX_COMPONENTS][2 * 256 + 1]; /* hex of the CBOR component id */
    char component_names[SRV_MAX_COMPONENTS][256];    /* text form */
};

/* The highest sequence number stored for (vendor, class, component); 0 without one. */
secup_rc store_max_seq(struct db *db, const char *vendor, const char *class_id,
                       const char *component, int64_t *seq, struct secup_err *err);
/* Is there an image (any status) with this sequence number and profile? */
secup_rc store_variant_exists(struct db *db, const char *vendor, const char *class_id,
                              const char *component, int64_t seq, const char *profile,
                              bool *exists, struct secup_err *err);
/* Inserts the image and its components (SECUP_E_EXISTS for the same manifest). */
secup_rc store_image_add(struct db *db, const struct srv_image *img, struct secup_err *err);
secup_rc store_image_get(struct db *db, const char *id, struct srv_image *img,
                         struct secup_err *err);
secup_rc store_image_status(struct db *db, const char *id, const char *status,
                            const char *reason, struct secup_err *err);
secup_rc store_image_policy(struct db *db, const char *id, const char *field,
                            const char *value, struct secup_err *err);
json_t *store_image_json(const struct srv_image *img);
/* JSON array of images, newest first; filters may be NULL. active_only hides quarantined
 * and removed images. */
secup_rc store_image_list(struct db *db, const char *vendor, const char *class_id,
                          const char *component, bool active_only, json_t **out,
                          struct secup_err *err);
/* The newest active image for (class, component); vendor and profile may be NULL.
 * img->components are not loaded. SECUP_E_NOENT. */
secup_rc store_latest(struct db *db, const char *vendor, const char *class_id,
                      const char *component, const char *profile, struct srv_image *img,
                      struct secup_err *err);

secup_rc store_download(struct db *db, const char *image, const char *device,
                        const char *what, int64_t bytes, int64_t time, struct secup_err *err);
/* JSON array of downloads (image and device may be NULL filters). */
secup_rc store_download_list(struct db *db, const char *image, const char *device,
                             json_t **out, struct secup_err *err);
/* JSON array of devices whose newest download of (vendor, class, component) is older than
 * the newest active image. */
secup_rc store_obsolete(struct db *db, json_t **out, struct secup_err *err);

struct srv_subscription {
    char id[SRV_HEX_ID];
    char tracker[SRV_ID_MAX + 1];
    char url[1024];
    char vendor[33];   /* "*" for any */
    char class_id[33]; /* "*" for any */
};
secup_rc store_subscribe(struct db *db, const struct srv_subscription *s, struct secup_err *err);
secup_rc store_unsubscribe(struct db *db, const char *id, struct secup_err *err);
secup_rc store_subscription_list(struct db *db, json_t **out, struct secup_err *err);
/* Queues one signed notification per matching subscription. */
secup_rc store_outbox_add(struct db *db, const struct srv_image *img, const char *body_hex,
                          struct secup_err *err);
struct srv_outbox_item {
    char id[200];
    char url[1024];
    char body_hex[2 * 4400 + 1];
    int64_t attempts;
};
/* Up to max undelivered notifications whose time has come. */
secup_rc store_outbox_due(struct db *db, struct srv_outbox_item *items, size_t max, size_t *n,
                          struct secup_err *err);
/* What became of one delivery attempt. */
enum srv_delivery {
    SRV_DELIVERY_RETRY = 0,   /* failed; try again at next_try (the outbox's delivered = 0) */
    SRV_DELIVERY_DONE = 1,    /* the tracker took it */
    SRV_DELIVERY_REFUSED = 2, /* the tracker refused it for good (a 4xx other than 408/425/429):
                               * the same signed bytes would be refused again; kept, not retried */
};
/* Records an attempt: delivered, refused for good, or failed with the next try. */
secup_rc store_outbox_result(struct db *db, const char *id, enum srv_delivery result,
                             int64_t next_try, const char *error, struct secup_err *err);
/* Next server counter for notifications. */
secup_rc store_next_counter(struct db *db, int64_t *counter, struct secup_err *err);

/* ---- the process (server.c / routes.c) ---- */

struct srv;
secup_rc srv_run(const char *dir, struct secup_err *err);

#endif /* SECUP_SERVER_H */
