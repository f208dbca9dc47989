#include <string.h>

#include "secup/cose.h"
#include "util/alloc.h"

struct anchor {
    struct secup_key *key;
    char name[SECUP_TRUST_NAME_MAX];
};

struct secup_trust {
    size_t n;
    struct anchor anchors[SECUP_MAX_TRUST_ANCHORS];
};

secup_rc secup_trust_new(struct secup_trust **out, struct secup_err *err)
{
    *out = secup_alloc(sizeof(**out));
    if (!*out)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for a trust store");
    return SECUP_OK;
}

secup_rc secup_trust_add(struct secup_trust *t, struct secup_key *key, const char *name,
                         struct secup_err *err)
{
    if (!t || !key)
        return secup_err_set(err, SECUP_E_ARG, "no trust store or key");
    if (t->n >= SECUP_MAX_TRUST_ANCHORS)
        return secup_err_set(err, SECUP_E_LIMIT, "more than %d trust anchors",
                             SECUP_MAX_TRUST_ANCHORS);
    struct anchor *a = &t->anchors[t->n++];
    a->key = key;
    size_t n = name ? strlen(name) : 0;
    if (n >= sizeof(a->name))
        n = sizeof(a->name) - 1;
    memcpy(a->name, name ? name : "", n);
    a->name[n] = '\0';
    return SECUP_OK;
}

size_t secup_trust_count(const struct secup_trust *t)
{
    return t ? t->n : 0;
}

const char *secup_trust_name(const struct secup_trust *t, size_t i)
{
    return t && i < t->n ? t->anchors[i].name : "";
}

const struct secup_key *secup_trust_key(const struct secup_trust *t, size_t i)
{
    return t && i < t->n ? t->anchors[i].key : NULL;
}

void secup_trust_free(struct secup_trust *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        secup_key_free(t->anchors[i].key);
    secup_free(t);
}

void secup_buffer_free(void *p)
{
    secup_free(p);
}
