/* secup-tracker: the Status Tracker. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tracker.h"

static void help(void)
{
    printf("usage: secup-tracker <command> ...\n\n"
           "  init DIR [--listen ADDR:PORT] [--db URL] [--id NAME]\n"
           "        create a data directory: tracker.json, the tracker's signing key, a\n"
           "        self-signed TLS certificate and the database schema\n"
           "  run DIR\n"
           "        serve enrolment, signed status reports and server notifications\n"
           "  admin DIR <object> <verb> ... [--json]\n"
           "        enrolment tokens, servers, the inventory (admin --help)\n");
}

int main(int argc, char **argv)
{
    cli_init("secup-tracker");
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        help();
        return argc < 2 ? 2 : 0;
    }
    struct secup_err err;
    secup_err_clear(&err);
    if (strcmp(argv[1], "admin") == 0)
        return trk_admin(argc - 1, argv + 1);
    if (strcmp(argv[1], "run") == 0) {
        if (argc != 3)
            return cli_usage("run", "give the data directory");
        return trk_run(argv[2], &err) == SECUP_OK ? 0 : cli_fail("run", &err);
    }
    if (strcmp(argv[1], "init") == 0) {
        static const struct option opts[] = {
            { "listen", required_argument, NULL, 'l' }, { "db", required_argument, NULL, 'd' },
            { "id", required_argument, NULL, 'i' },     { NULL, 0, NULL, 0 },
        };
        struct trk_init_opts o = { 0 };
        int c;
        optind = 1;
        while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
            switch (c) {
            case 'l': o.listen = optarg; break;
            case 'd': o.db_url = optarg; break;
            case 'i': o.id = optarg; break;
            default: return cli_usage("init", "unknown option");
            }
        }
        if (optind != argc - 2)
            return cli_usage("init", "give one data directory");
        if (trk_init(argv[optind + 1], &o, &err) != SECUP_OK)
            return cli_fail("init", &err);
        cli_note("initialised %s", argv[optind + 1]);
        return 0;
    }
    return cli_usage(argv[1], "unknown command (init, run, admin)");
}
