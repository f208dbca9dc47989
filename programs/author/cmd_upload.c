/* secup-author upload: submits an envelope (and its detached payload) to a Firmware
 * Server: POST {server}/v1/images, multipart/form-data, bearer token (PROTOCOL.md). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "author.h"
#include "cli.h"
#include "httpc.h"
#include "token.h"

#define TOKEN_MAX 4096

static void help(void)
{
    printf("usage: secup-author upload --server URL (--token TOKEN | --token-file FILE)\n"
           "                           [--cacert FILE] [--insecure] [--json] [--quiet]\n"
           "                           ENVELOPE [--payload FILE]\n\n"
           "Submits a signed envelope, and its detached payload if it has one, to a Firmware\n"
           "Server (POST URL/v1/images as multipart/form-data, parts \"envelope\" and\n"
           "\"payload\"). The server checks both before accepting them. On success prints\n"
           "the new image's id (the whole JSON answer with --json); a refusal is printed with\n"
           "the server's reason and result code, and sets the exit status by its code.\n\n"
           "  --server URL       the server's base URL (https://...)\n"
           "  --token TOKEN      the Author's bearer token\n"
           "  --token-file FILE  read the token from FILE instead (keeps it out of ps)\n"
           "  --cacert FILE      trust these CA certificates (PEM) instead of the system's\n"
           "  --insecure         do not verify the server's certificate (development only)\n"
           "  --payload FILE     the detached payload (encrypted or plain)\n"
           "  --json             print the server's whole answer\n"
           "  --quiet            no progress bar\n"
           "A progress bar is drawn on stderr when it is a terminal.\n");
}

struct progress {
    int last_pct;
};

static void draw_progress(void *ctx, uint64_t done, uint64_t total, bool upload)
{
    struct progress *p = ctx;
    if (!upload || total == 0)
        return;
    int pct = (int)(done * 100u / total);
    if (pct == p->last_pct)
        return;
    p->last_pct = pct;
    int width = 30;
    int fill = pct * width / 100;
    fprintf(stderr, "\rupload [%.*s%*s] %3d%% %.1f/%.1f MiB", fill,
            "##############################", width - fill, "", pct,
            (double)done / 1048576.0, (double)total / 1048576.0);
    fflush(stderr);
}


int cmd_upload(int argc, char **argv)
{
    static const struct option opts[] = {
        { "server", required_argument, NULL, 's' },
        { "token", required_argument, NULL, 't' },
        { "token-file", required_argument, NULL, 'T' },
        { "cacert", required_argument, NULL, 'c' },
        { "insecure", no_argument, NULL, 'k' },
        { "payload", required_argument, NULL, 'p' },
        { "json", no_argument, NULL, 'j' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *server = NULL, *token = NULL, *token_file = NULL, *cacert = NULL;
    const char *payload = NULL, *envelope = NULL;
    bool insecure = false, json_out = false, quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:t:T:c:kp:jqh", opts, NULL)) != -1) {
        switch (c) {
        case 's': server = optarg; break;
        case 't': token = optarg; break;
        case 'T': token_file = optarg; break;
        case 'c': cacert = optarg; break;
        case 'k': insecure = true; break;
        case 'p': payload = optarg; break;
        case 'j': json_out = true; break;
        case 'q': quiet = true; break;
        case 'h': help(); return 0;
        default: return cli_usage("upload", "unknown option");
        }
    }
    if (optind < argc)
        envelope = argv[optind++];
    if (optind < argc)
        return cli_usage("upload", "unexpected argument '%s'", argv[optind]);
    if (!envelope)
        return cli_usage("upload", "no envelope file given");
    if (!server)
        return cli_usage("upload", "--server is required");
    if (!token == !token_file)
        return cli_usage("upload", "give one of --token and --token-file");
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
        return cli_usage("upload", "--server must be an http:// or https:// URL");

    struct secup_err err;
    secup_err_clear(&err);
    char token_buf[TOKEN_MAX];
    if (token_file) {
        if (token_read_file(token_file, token_buf, sizeof(token_buf), &err) != SECUP_OK)
            return cli_fail("upload", &err);
        token = token_buf;
    }

    size_t n = strlen(server);
    while (n > 0 && server[n - 1] == '/')
        n--;
    char url[2048];
    if ((size_t)snprintf(url, sizeof(url), "%.*s/v1/images", (int)n, server) >= sizeof(url))
        return cli_usage("upload", "--server URL is too long");

    struct httpc_part parts[2] = {
        { .name = "envelope", .file = envelope, .content_type = "application/suit-envelope+cose" },
        { .name = "payload", .file = payload, .content_type = "application/octet-stream" },
    };
    struct httpc_config cfg = { .ca_file = cacert, .insecure = insecure };
    struct progress prog = { .last_pct = -1 };
    bool bar = !quiet && isatty(STDERR_FILENO);
    const char *const headers[] = { "Accept: application/json", NULL };
    struct httpc_request req = {
        .method = "POST",
        .url = url,
        .headers = headers,
        .bearer = token,
        .parts = parts,
        .nparts = payload ? 2 : 1,
        .progress = bar ? draw_progress : NULL,
        .progress_ctx = &prog,
    };
    struct httpc_response resp;
    secup_rc rc = httpc_perform(&cfg, &req, &resp, &err);
    if (token == token_buf)
        memset(token_buf, 0, sizeof(token_buf));
    if (bar && prog.last_pct >= 0)
        fputc('\n', stderr);
    if (rc != SECUP_OK)
        return cli_fail("upload", &err);

    int status = 0;
    if (resp.status < 200 || resp.status >= 300) {
        httpc_response_error(&resp, &err);
        secup_err_prefix(&err, "%s answered %ld", url, resp.status);
        status = cli_fail("upload", &err);
        if (resp.status == 401)
            cli_hint("check the token given with --token or --token-file");
        httpc_response_free(&resp);
        return status;
    }
    json_t *root = resp.body ? json_loadb((const char *)resp.body, resp.body_len, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(root, "id"));
    if (!id) {
        secup_err_set(&err, SECUP_E_JSON, "%s answered %ld without an image id", url,
                      resp.status);
        status = cli_fail("upload", &err);
    } else if (json_out) {
        char *s = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (s)
            printf("%s\n", s);
        free(s);
    } else {
        printf("%s\n", id);
    }
    json_decref(root);
    httpc_response_free(&resp);
    return status;
}
