/* secup — the one result-code vocabulary of the project (STYLE.md section 4).
 *
 * Codes live in bands so that a caller can ask "what kind of failure" with a range test:
 *   1xx caller misuse, 2xx malformed/unsupported/over-limit input,
 *   3xx authenticity or policy refusal (do not retry), 4xx environment (a retry may help).
 * Released numbers never change and are never reused.
 */
#ifndef SECUP_RC_H
#define SECUP_RC_H

#include "secup/export.h"

typedef enum secup_rc {
    SECUP_OK = 0,

    SECUP_E_ARG = 100,        /* invalid argument passed by the caller */
    SECUP_E_STATE = 101,      /* call not valid in the object's current state */
    SECUP_E_BUF_SMALL = 102,  /* the caller's output buffer is too small */
    SECUP_E_USAGE = 103,      /* command-line usage error */

    SECUP_E_CBOR = 200,              /* malformed CBOR */
    SECUP_E_LIMIT = 201,             /* some other bound exceeded */
    SECUP_E_UNSUPPORTED = 202,       /* well-formed but not supported (algorithm, element) */
    SECUP_E_TYPE = 203,              /* a field has the wrong CBOR type */
    SECUP_E_MISSING = 204,           /* a required field is absent */
    SECUP_E_DUPLICATE = 205,         /* a map key appears twice */
    SECUP_E_TRAILING = 206,          /* bytes after the end of the top-level item */
    SECUP_E_INDEFINITE = 207,        /* indefinite-length item (not allowed) */
    SECUP_E_UNKNOWN_KEY = 208,       /* a map key that is not defined here */
    SECUP_E_VALUE = 209,             /* a field's value is out of its allowed range */
    SECUP_E_LIMIT_SIZE = 210,        /* input larger than the maximum envelope/file size */
    SECUP_E_LIMIT_DEPTH = 211,       /* nesting deeper than allowed */
    SECUP_E_LIMIT_COMPONENTS = 212,  /* more components than allowed */
    SECUP_E_LIMIT_COMMANDS = 213,    /* command sequence longer than allowed */
    SECUP_E_LIMIT_STRING = 214,      /* text string longer than allowed */
    SECUP_E_LIMIT_BYTES = 215,       /* byte string longer than allowed */
    SECUP_E_LIMIT_PARAMS = 216,      /* more parameters than allowed */
    SECUP_E_LIMIT_AUTH = 217,        /* more authentication blocks than allowed */
    SECUP_E_LIMIT_ITEMS = 218,       /* array or map with more entries than allowed */
    SECUP_E_JSON = 219,              /* malformed or invalid JSON input */
    SECUP_E_KEY_FORMAT = 220,        /* a key file that cannot be parsed */
    SECUP_E_SEVERED = 221,           /* a severed element is needed but not in the envelope */
    SECUP_E_LIMIT_TEXT = 222,        /* more text entries than allowed */
    SECUP_E_LIMIT_DEPENDENCIES = 223,/* more dependencies or integrated payloads than allowed */
    SECUP_E_TRUNCATED = 224,         /* a payload ends before its declared size */
    SECUP_E_OVERLONG = 225,          /* bytes appended after the declared end of a payload */
    SECUP_E_COMPRESSED = 226,        /* malformed compressed data */
    SECUP_E_BOMB = 227,              /* decompressed data larger than the declared image size */
    SECUP_E_HTTP = 228,              /* malformed HTTP request: path, query, header or body framing */
    SECUP_E_LIMIT_BODY = 229,        /* request or response body larger than allowed */

    SECUP_E_SIG = 300,          /* a signature or MAC does not verify */
    SECUP_E_DIGEST = 301,       /* a digest does not match */
    SECUP_E_KEY_UNKNOWN = 302,  /* no trusted key for this signer */
    SECUP_E_ROLLBACK = 303,     /* sequence number not greater than the stored one */
    SECUP_E_VENDOR = 304,       /* vendor identifier missing or not this device's */
    SECUP_E_CLASS = 305,        /* class identifier missing or not this device's */
    SECUP_E_SIZE = 306,         /* an image size does not match */
    SECUP_E_UNSIGNED = 307,     /* no authentication block at all */
    SECUP_E_POLICY = 308,       /* refused by local policy for another reason */
    SECUP_E_UNWRAP = 312,       /* a wrapped content key fails its integrity check (wrong key) */
    SECUP_E_TAG = 310,          /* an AEAD authentication tag does not verify */
    SECUP_E_NO_RECIPIENT = 311, /* the encryption info has no recipient for this key (kid) */
    SECUP_E_CONDITION = 309,    /* a manifest condition does not hold on this device */
    SECUP_E_AUTH = 313,         /* no credential, or one that is malformed, unknown or expired */
    SECUP_E_FORBIDDEN = 314,    /* authenticated, but not allowed to do this */
    SECUP_E_BANNED = 315,       /* the Author (or device) is banned */
    SECUP_E_LOCATION = 316,     /* outside the image's location policy */
    SECUP_E_QUARANTINED = 317,  /* the image is quarantined or removed from distribution */
    SECUP_E_FLAGGED = 318,      /* the scanner hook flagged the image as malicious */
    SECUP_E_REPLAY = 319,       /* a counter that does not increase: replayed or reordered */
    SECUP_E_EXPIRED = 320,      /* a signed object past its expiry, or issued in the future */
    SECUP_E_AUDIENCE = 321,     /* a signed object meant for another party */
    SECUP_E_QUOTA = 322,        /* more requests or data than this principal's quota */
    SECUP_E_STATE_ROLLBACK = 330, /* the device state is older than its secure counter (restored copy) */
    SECUP_E_THRESHOLD = 331,    /* fewer distinct authorised signers than the threshold requires */
    SECUP_E_GAVE_UP = 332,      /* the same update failed too often: not tried again */
    SECUP_E_UNAPPROVED = 333,   /* the device's policy needs a tracker's approval it lacks */

    SECUP_E_NOMEM = 400,   /* out of memory */
    SECUP_E_IO = 401,      /* file or device I/O failed */
    SECUP_E_NET = 402,     /* network failure */
    SECUP_E_DB = 403,      /* database failure */
    SECUP_E_CRYPTO = 404,  /* the crypto backend failed (not "signature invalid") */
    SECUP_E_NOENT = 405,   /* a file or object does not exist */
    SECUP_E_EXISTS = 406,  /* refusing to replace an existing file or object */
    SECUP_E_NOSPACE = 407, /* storage full (disk or quota) */
    SECUP_E_TIMEOUT = 408, /* a peer or a child process did not answer in time */
    SECUP_E_UNAVAILABLE = 409, /* a service is not reachable or refuses service for now */
    SECUP_E_KEY_EXPOSED = 415, /* a private key file that others may read or write */
    SECUP_E_RATE = 416,    /* too many requests from this address: again after Retry-After */
} secup_rc;

/* Human description of a code. Never NULL; static storage. */
SECUP_API const char *secup_rc_str(secup_rc rc);

/* The code's C name ("SECUP_E_SIG"), for logs, tests and JSON error bodies.
 * Never NULL; "SECUP_E_UNKNOWN_CODE" for a value that is not a code. */
SECUP_API const char *secup_rc_name(secup_rc rc);

/* Process exit status for a code, as the command-line tools use it:
 * 0 ok, 1 refusal (3xx), 2 usage (1xx), 3 bad input (2xx), 4 environment (4xx). */
SECUP_API int secup_rc_exit_status(secup_rc rc);

/* Looks a code up by its name; returns false if no code has that name. */
SECUP_API _Bool secup_rc_from_name(const char *name, secup_rc *out);

#endif /* SECUP_RC_H */
