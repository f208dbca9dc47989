/* secup-author: entry point and command dispatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "author.h"
#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    { "keygen", cmd_keygen, "generate a signing key pair (ESP256 or Ed25519)" },
    { "create", cmd_create, "build and sign a SUIT envelope for one or more images" },
    { "verify", cmd_verify, "check an envelope's signature, and optionally an image against it" },
    { "inspect", cmd_inspect, "print every field of an envelope (text or --json)" },
    { "decrypt", cmd_decrypt, "decrypt a payload and check it against its manifest" },
    { "upload", cmd_upload, "submit an envelope and its payload to a Firmware Server" },
    { "request", cmd_request, "sign a request telling a tracker that a manifest is available" },
    { "sign", cmd_sign, "add signatures to a signed envelope (co-sign), checking its images first" },
};

static void usage(FILE *out)
{
    fprintf(out, "usage: secup-author <command> [options]\n\n"
                 "The Author of secup: builds SUIT manifests (draft-ietf-suit-manifest-37), signs\n"
                 "them with COSE, encrypts payloads for their recipients, and checks them.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'secup-author <command> --help' describes each command.\n"
                 "Exit status: 0 ok, 1 refused (signature, digest, policy), 2 usage,\n"
                 "3 malformed input, 4 environment (I/O, memory, network).\n");
}

int main(int argc, char **argv)
{
    cli_init("secup-author");
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("secup-author %s\n", SECUP_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "secup-author: unknown command '%s' [SECUP_E_USAGE]\n", argv[1]);
    cli_hint("see 'secup-author --help'");
    return 2;
}
