/* Replays corpus files through a fuzz target without libFuzzer, so that every corpus runs
 * under ctest with the normal compiler (STYLE.md section 9).
 *
 *   fuzz_replay_<target> PATH...
 *
 * A PATH that is a directory contributes its regular files (not its subdirectories), in
 * name order so that runs are reproducible. Exits 0 when every input ran; 1 when a file
 * cannot be read or no input was found at all (an empty corpus would prove nothing); a
 * broken invariant aborts inside the target. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int replay_file(const char *path)
{
    size_t len = 0;
    uint8_t *data = fuzz_common_read_file(path, &len);
    if (!data) {
        fprintf(stderr, "replay: cannot read '%s': %s\n", path, strerror(errno));
        return -1;
    }
    /* Named first so that a crash report shows which input caused it. */
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    (void)LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 0;
}

static int is_visible(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

static int replay_dir(const char *dir, size_t *count)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, is_visible, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: cannot list '%s': %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        int len = snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (len < 0 || (size_t)len >= sizeof(path)) {
            fprintf(stderr, "replay: path too long in '%s'\n", dir);
            rc = -1;
        } else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(path) == 0)
                (*count)++;
            else
                rc = -1;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int failed = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: '%s': %s\n", argv[i], strerror(errno));
            failed = 1;
        } else if (S_ISDIR(st.st_mode)) {
            failed |= replay_dir(argv[i], &count) != 0;
        } else if (replay_file(argv[i]) == 0) {
            count++;
        } else {
            failed = 1;
        }
    }
    printf("replay: %zu inputs ran%s\n", count, failed ? ", some could not be read" : "");
    if (count == 0) {
        fprintf(stderr, "replay: no input found\n");
        return 1;
    }
    return failed ? 1 : 0;
}
