/* Names of SUIT sections, commands and parameters, for messages and `inspect`. */
#include "secup/manifest.h"

static const struct {
    const char *name;
    int64_t key;
} sections[SECUP_SECTION_COUNT] = {
    [SECUP_SECTION_VALIDATE] = { "validate", 7 },
    [SECUP_SECTION_LOAD] = { "load", 8 },
    [SECUP_SECTION_INVOKE] = { "invoke", 9 },
    [SECUP_SECTION_UNINSTALL] = { "uninstall", 24 },
    [SECUP_SECTION_DEPENDENCY_RESOLUTION] = { "dependency-resolution", 15 },
    [SECUP_SECTION_PAYLOAD_FETCH] = { "payload-fetch", 16 },
    [SECUP_SECTION_CANDIDATE_VERIFICATION] = { "candidate-verification", 18 },
    [SECUP_SECTION_INSTALL] = { "install", 20 },
    [SECUP_SECTION_TEXT] = { "text", 23 },
    [SECUP_SECTION_COSWID] = { "coswid", 14 },
};

const char *secup_section_name(enum secup_section s)
{
    return (unsigned)s < SECUP_SECTION_COUNT ? sections[s].name : "unknown";
}

int64_t secup_section_key(enum secup_section s)
{
    return (unsigned)s < SECUP_SECTION_COUNT ? sections[s].key : 0;
}

const char *secup_command_name(int64_t code)
{
    switch (code) {
    case 1: return "vendor-identifier";
    case 2: return "class-identifier";
    case 3: return "image-match";
    case 4: return "use-before";
    case 5: return "component-slot";
    case 6: return "check-content";
    case 7: return "dependency-integrity";
    case 8: return "is-dependency";
    case 11: return "process-dependency";
    case 12: return "set-component-index";
    case 14: return "abort";
    case 15: return "try-each";
    case 18: return "write";
    case 19: return "set-parameters";
    case 20: return "override-parameters";
    case 21: return "fetch";
    case 22: return "copy";
    case 23: return "invoke";
    case 24: return "device-identifier";
    case 25: return "image-not-match";
    case 26: return "minimum-battery";
    case 27: return "update-authorized";
    case 28: return "version";
    case 29: return "wait";
    case 31: return "swap";
    case 32: return "run-sequence";
    case 33: return "unlink";
    case 34: return "override-multiple";
    case 35: return "copy-params";
    default: return code < 0 ? "custom" : NULL;
    }
}

bool secup_command_is_condition(int64_t code)
{
    switch (code) {
    case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8:
    case 14: case 24: case 25: case 26: case 27: case 28:
        return true;
    default:
        return false;
    }
}

const char *secup_param_name(int64_t key)
{
    switch (key) {
    case 1: return "vendor-identifier";
    case 2: return "class-identifier";
    case 3: return "image-digest";
    case 4: return "use-before";
    case 5: return "component-slot";
    case 12: return "strict-order";
    case 13: return "soft-failure";
    case 14: return "image-size";
    case 18: return "content";
    case 19: return "encryption-info";
    case 21: return "uri";
    case 22: return "source-component";
    case 23: return "invoke-args";
    case 24: return "device-identifier";
    case 25: return "fetch-arguments";
    case 26: return "minimum-battery";
    case 27: return "update-priority";
    case 28: return "version";
    case 29: return "wait-info";
    case 30: return "component-metadata";
    default: return key < 0 ? "custom" : NULL;
    }
}
