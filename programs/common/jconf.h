/* Strict JSON configuration files (server, tracker): every key known, every value checked,
 * paths resolved against the file's directory, errors naming the file and the key. */
#ifndef SECUP_JCONF_H
#define SECUP_JCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http/ratelimit.h"
#include "secup/err.h"

struct jconf {
    const char *file;       /* for messages and relative paths */
    struct secup_err *err;
};

/* Reads and parses a file of at most max bytes; duplicate keys are refused. */
secup_rc jconf_load(const char *path, size_t max, json_t **out, struct secup_err *err);
/* Refuses any key of obj not in allowed (NULL-terminated). */
secup_rc jconf_keys(struct jconf *c, json_t *obj, const char *where, const char *const *allowed);
/* A non-empty string without NUL of fewer than cap bytes. Absent: SECUP_OK, dst untouched,
 * unless required. */
secup_rc jconf_str(struct jconf *c, json_t *obj, const char *key, char *dst, size_t cap,
                   bool required);
/* Like jconf_str, relative paths joined to the file's directory. */
secup_rc jconf_path(struct jconf *c, json_t *obj, const char *key, char *dst, size_t cap,
                    bool required);
secup_rc jconf_uint(struct jconf *c, json_t *obj, const char *key, uint64_t min, uint64_t max,
                    uint64_t *out, bool required);
secup_rc jconf_bool(struct jconf *c, json_t *obj, const char *key, bool *out);
/* An array of at most max non-empty strings, copied into one buffer of cap bytes;
 * argv[n] = NULL. */
secup_rc jconf_strv(struct jconf *c, json_t *obj, const char *key, char **argv, size_t max,
                    char *buf, size_t cap, size_t *n);
/* Per-source request limits (httpd_req_limit): obj[key] is {"CLASS": {"rate": R,
 * "burst": B}, ...} with CLASS one of names (NULL-terminated; its index is the class),
 * R requests per second (a number from 0 to 1000000; 0: no limit) and B the requests
 * allowed at once (an integer from 0 to 1000000; 0 or absent: max(1, R)). Classes not
 * named keep what out holds. */
secup_rc jconf_rates(struct jconf *c, json_t *obj, const char *key, const char *const *names,
                     struct ratelimit_class *out);

#endif /* SECUP_JCONF_H */
