/* secup-fleetsim: many simulated devices in one process (docs/fleetsim.md).
 *
 * One thread drives every device through the curl-multi client of the HTTP seam
 * (httpc_multi_*): each device is a small state machine whose steps are HTTP requests
 * (register, report, long poll, manifest, payload) and whose transitions run in the
 * requests' completion callbacks. The cryptography is libsecup's, as in secup-agent:
 * commands with secup_command_verify()/secup_command_accept(), manifests with
 * secup_envelope_decode() and secup_policy_check() against the Author's trust anchors,
 * payloads through the streaming pipeline (digest and size) into a slot that keeps no
 * bytes, reports with secup_status_sign(). */
#ifndef SECUP_FLEET_H
#define SECUP_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include "httpc.h"
#include "secup/command.h"
#include "secup/cose.h"
#include "secup/keys.h"
#include "secup/manifest.h"
#include "secup/policy.h"
#include "secup/stream.h"

#define FLEET_URL_MAX 1100
#define FLEET_ID_MAX 64
#define FLEET_TOKEN_MAX 256

struct fleet_opts {
    uint32_t devices;
    const char *prefix;            /* device ids: <prefix>-00001 ... */
    const char *tracker_url;
    const char *tracker_id;
    const char *tracker_key;       /* the tracker's public key: commands must verify with it */
    const char *tracker_ca;
    const char *server_url;        /* resolves URIs that are paths */
    const char *server_ca;
    const char *server_token;      /* file: the bearer token for the Firmware Server */
    const char *token;             /* file: the enrolment token */
    const char *vendor_domain;
    const char *class_name;
    const char *initial;           /* the manifest every device runs at the start */
    const char *trust[8];          /* Author public keys */
    uint32_t n_trust;
    double fail_ratio;
    const char *fail_list;
    const char *offline_list;
    uint64_t offline_for;          /* seconds; 0: until SIGUSR1 */
    uint64_t duration;             /* seconds; 0: until a stop condition */
    uint64_t until_seq;            /* stop once every online device settled on this */
    uint32_t poll_wait;
    uint32_t report_interval;
    uint32_t ramp_ms;              /* devices start spread over this */
    uint32_t attempts;             /* per download */
    uint32_t max_connections;
    uint64_t slot_size;
    const char *json;              /* summary: a file, or "-" for stdout */
    const char *download_manifest; /* baseline: download-only, no tracker */
    const char *download_payload;
    const char *state_dir;         /* keys and state files kept across runs; NULL: none */
    bool shared_connections;       /* the fleet shares one connection pool */
    bool verbose;
};

enum dev_step { STEP_REGISTER, STEP_REPORT, STEP_POLL, STEP_MANIFEST, STEP_PAYLOAD, STEP_COUNT };

struct install;

struct dev {
    struct fleet *f;
    uint32_t idx;
    char id[FLEET_ID_MAX];
    struct secup_key *key;
    char *pub_pem;
    char token[FLEET_TOKEN_MAX];
    bool busy;          /* a request in flight */
    bool dark;          /* offline */
    bool fails;         /* its new images fail their health check */
    bool report_due;
    bool finished;      /* download-only: done */
    uint64_t dark_until_ms;
    uint64_t wake_ms;
    uint32_t delay_s;
    uint64_t report_counter;
    uint64_t cmd_counter;      /* the highest command counter acted on */
    uint64_t last_report_ms;
    /* the simulated slots: what runs */
    uint64_t seq;
    uint8_t digest[32];
    char version[64];
    uint32_t slot;
    /* the last install's result */
    bool has_last;
    uint8_t last_id[32];
    char last_code[48];
    char last_reason[200];
    uint64_t last_time;
    struct install *ins;
    /* what the tracker has accepted */
    uint64_t reported_seq;
    bool reported_failure;
    uint64_t cmd_at_ms;        /* the install command accepted */
    uint64_t req_start_ms;
};

struct lat {
    uint32_t n, cap;
    uint32_t *v;
};

struct fleet {
    struct fleet_opts o;
    struct httpc_multi *multi;
    struct httpc_config tracker_http;
    struct httpc_config poll_http;
    struct httpc_config server_http;
    struct secup_key *tracker_key;
    struct secup_trust *trust;
    struct secup_device_policy policy;
    char server_token[FLEET_TOKEN_MAX];
    char enrol_token[FLEET_TOKEN_MAX];
    uint8_t comp_id[256];      /* the simulated component, CBOR-encoded */
    size_t comp_id_len;
    struct secup_component_id comp;  /* views into comp_src */
    uint8_t *comp_src;
    size_t comp_src_len;
    uint64_t init_seq;
    uint8_t init_digest[32];
    char init_version[64];
    struct dev *devs;
    char keydir[256];
    uint64_t start_ms, start_epoch_ms;
    /* counts */
    uint64_t requests[STEP_COUNT];
    uint64_t errors;
    uint64_t cmds[5];          /* by action; [0]: refused */
    uint64_t installs_ok, installs_failed, fell_back;
    uint64_t bytes_payload, bytes_manifest;
    uint64_t first_cmd_epoch_ms, last_cmd_epoch_ms, last_update_epoch_ms, last_done_epoch_ms;
    struct lat l_update;       /* install command accepted -> report of its result accepted */
    struct lat l_download;     /* manifest + payload */
    struct lat l_step[STEP_COUNT];
};

uint64_t fleet_now_ms(void);
uint64_t fleet_epoch_ms(void);
void fleet_log(const struct fleet *f, const char *fmt, ...) SECUP_PRINTF(2, 3);
void lat_add(struct lat *l, uint64_t ms);

/* Writes the device's state file (with --state-dir; nothing without). */
void dev_save(struct dev *d);
/* One step of a device that is idle and due: starts its next request. */
void dev_step(struct dev *d);
/* Sets up a device: key, initial image, fail and offline flags. */
secup_rc dev_init(struct fleet *f, struct dev *d, uint32_t idx, struct secup_err *err);
void dev_free(struct dev *d);
/* True when the device counts as settled on f->o.until_seq. */
bool dev_settled(const struct dev *d);

/* Reads the running image from the --initial manifest into f (every device starts so). */
secup_rc fleet_initial(struct fleet *f, struct secup_err *err);

#endif /* SECUP_FLEET_H */
