/* secup-server: the Firmware Server. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "cli.h"
#include "server.h"

static void help(void)
{
    printf("usage: secup-server <command> ...\n\n"
           "  init DIR [--listen ADDR:PORT] [--db URL] [--id NAME]\n"
           "        create a data directory: server.json, a notification signing key, a\n"
           "        self-signed TLS certificate, the blob store and the database schema\n"
           "        (--db: sqlite:PATH (default sqlite:server.db) or postgresql://...)\n"
           "  run DIR\n"
           "        serve the REST API (docs/api.md) until SIGINT or SIGTERM\n"
           "  admin DIR <object> <verb> ... [--json]\n"
           "        Authors, grants, bans, devices, trackers, images, history (admin --help)\n\n"
           "Errors: secup-server: <command>: <message> [SECUP_E_NAME]; exit 0 ok, 1 refused,\n"
           "2 usage, 3 bad input, 4 environment.\n");
}

static int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        { "listen", required_argument, NULL, 'l' }, { "db", required_argument, NULL, 'd' },
        { "id", required_argument, NULL, 'i' },     { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct srv_init_opts o = { 0 };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l': o.listen = optarg; break;
        case 'd': o.db_url = optarg; break;
        case 'i': o.id = optarg; break;
        case 'h': help(); return 0;
        default: return cli_usage("init", "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage("init", "give one data directory");
    struct secup_err err;
    secup_err_clear(&err);
    if (srv_init(argv[optind], &o, &err) != SECUP_OK)
        return cli_fail("init", &err);
    cli_note("initialised %s: start it with 'secup-server run %s'", argv[optind], argv[optind]);
    return 0;
}

int main(int argc, char **argv)
{
    cli_init("secup-server");
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        help();
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "init") == 0)
        return cmd_init(argc - 1, argv + 1);
    if (strcmp(cmd, "admin") == 0)
        return srv_admin(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0) {
        if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            help();
            return 0;
        }
        if (argc != 3)
            return cli_usage("run", "give the data directory");
        struct secup_err err;
        secup_err_clear(&err);
        if (srv_run(argv[2], &err) != SECUP_OK)
            return cli_fail("run", &err);
        return 0;
    }
    return cli_usage(cmd, "unknown command (init, run, admin)");
}
