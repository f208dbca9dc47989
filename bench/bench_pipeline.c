/* bench/pipeline: the install pipeline (decrypt + SHA-256 + slot write with fsync) on a
 * large random image, for bench/run-pipeline.sh, which also times the baseline of separate
 * tools (openssl enc -d, openssl dgst -sha256, dd conv=fsync) on the same files.
 *
 *   bench_pipeline gen DIR MIB ALG [SEED]   write DIR/image.bin (seeded random) and the
 *                                           payload DIR/ALG.enc, its tag-less ciphertext
 *                                           DIR/ALG.ct, DIR/ALG.meta and DIR/ALG.env (key
 *                                           and counter for the baseline, as shell)
 *   bench_pipeline install DIR ALG [CHUNK]  stream DIR/ALG.enc into DIR/slot.bin and print
 *                                           "seconds=S bytes=N rss_kib=K"
 *
 * ALG is ctr (A128CTR) or gcm (A128GCM). The content key and IV are fixed so that the
 * baseline can decrypt the same file with openssl enc; never do that outside a benchmark.
 * Only the public API of libsecup is used. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "secup/secup.h"
#include "secup/encrypt.h"
#include "secup/stream.h"

static const uint8_t bench_kek[16] = { 0x0b, 0xe0, 0xc4, 0x11, 0x22, 0x33, 0x44, 0x55,
                                       0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd };
static const uint8_t bench_cek[16] = { 0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
                                       0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c };
static const uint8_t bench_iv[16] = { 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
                                      0xf8, 0xf9, 0xfa, 0xfb, 0x00, 0x00, 0x00, 0x00 };
static const uint8_t bench_kid[] = { 'b', 'e', 'n', 'c', 'h' };

static _Noreturn void die(const char *what, const struct secup_err *err)
{
    fprintf(stderr, "bench_pipeline: %s: %s\n", what, err ? err->msg : strerror(errno));
    exit(1);
}

static int64_t alg_of(const char *name)
{
    if (strcmp(name, "ctr") == 0)
        return SECUP_COSE_ALG_A128CTR;
    if (strcmp(name, "gcm") == 0)
        return SECUP_COSE_ALG_A128GCM;
    fprintf(stderr, "bench_pipeline: algorithm '%s' (ctr or gcm)\n", name);
    exit(2);
}

static void path_of(char *out, size_t cap, const char *dir, const char *name, const char *ext)
{
    if ((size_t)snprintf(out, cap, "%s/%s%s", dir, name, ext) >= cap) {
        fprintf(stderr, "bench_pipeline: path too long\n");
        exit(2);
    }
}

static void write_all(int fd, const void *p, size_t len)
{
    const uint8_t *b = p;
    while (len) {
        ssize_t n = write(fd, b, len);
        if (n <= 0)
            die("write", NULL);
        b += n;
        len -= (size_t)n;
    }
}

static void hex(FILE *f, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%02x", p[i]);
}

/* xorshift64*: reproducible "random" image data, fast enough not to dominate gen. */
static void gen_image(const char *path, uint64_t bytes, uint64_t seed)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        die(path, NULL);
    static uint64_t buf[8192];
    uint64_t x = seed ? seed : 0x9e3779b97f4a7c15u;
    for (uint64_t done = 0; done < bytes;) {
        for (size_t i = 0; i < sizeof(buf) / 8; i++) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            buf[i] = x * 0x2545f4914f6cdd1du;
        }
        size_t n = bytes - done < sizeof(buf) ? (size_t)(bytes - done) : sizeof(buf);
        write_all(fd, buf, n);
        done += n;
    }
    close(fd);
}

static int cmd_gen(const char *dir, uint64_t mib, const char *alg_name, uint64_t seed)
{
    int64_t alg = alg_of(alg_name);
    char image[4096];
    char enc[4096];
    char ct[4096];
    char meta[4096];
    char env[4096];
    path_of(image, sizeof(image), dir, "image", ".bin");
    path_of(enc, sizeof(enc), dir, alg_name, ".enc");
    path_of(ct, sizeof(ct), dir, alg_name, ".ct");
    path_of(meta, sizeof(meta), dir, alg_name, ".meta");
    path_of(env, sizeof(env), dir, alg_name, ".env");
    gen_image(image, mib << 20, seed);

    size_t iv_len = alg == SECUP_COSE_ALG_A128GCM ? 12 : 16;
    struct secup_enc_recipient_spec r = { SECUP_COSE_ALG_A128KW, secup_bytes_of(bench_kek, 16),
                                          secup_bytes_of(bench_kid, sizeof(bench_kid)), NULL };
    struct secup_encrypt_opts opts = { secup_bytes_of(bench_cek, 16),
                                       secup_bytes_of(bench_iv, iv_len), NULL };
    struct secup_payload_spec spec = { SECUP_COMPRESSION_NONE, 0, alg, &r, 1, &opts };
    static struct secup_payload_result res;
    struct secup_err err;
    int in = open(image, O_RDONLY);
    int out = open(enc, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0)
        die("opening image or payload", NULL);
    if (secup_payload_build_fd(in, out, &spec, &res, &err) != SECUP_OK)
        die("building the payload", &err);
    close(in);
    close(out);
    /* The baseline's openssl enc knows no AEAD: it gets the ciphertext without the tag
     * (for CTR the whole payload). */
    int a = open(enc, O_RDONLY);
    int b = open(ct, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (a < 0 || b < 0)
        die(ct, NULL);
    static uint8_t buf[1 << 16];
    for (uint64_t left = res.image_size; left;) {
        ssize_t n = read(a, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf));
        if (n <= 0)
            die("copying the ciphertext", NULL);
        write_all(b, buf, (size_t)n);
        left -= (uint64_t)n;
    }
    close(a);
    close(b);
    int m = open(meta, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (m < 0)
        die(meta, NULL);
    write_all(m, &res, sizeof(res));
    close(m);
    FILE *e = fopen(env, "w");
    if (!e)
        die(env, NULL);
    /* GCM encrypts with counter block IV || 00000002 (NIST SP 800-38D, 96-bit IV): the same
     * keystream as AES-CTR from there, which is what openssl enc can run. */
    uint8_t ctr[16];
    memcpy(ctr, bench_iv, 16);
    if (alg == SECUP_COSE_ALG_A128GCM) {
        memset(ctr + 12, 0, 4);
        ctr[15] = 2;
    }
    fprintf(e, "KEY=");
    hex(e, bench_cek, 16);
    fprintf(e, "\nIV=");
    hex(e, ctr, 16);
    fprintf(e, "\nDIGEST=");
    hex(e, res.image_digest, 32);
    fprintf(e, "\nIMAGE_SIZE=%llu\nPAYLOAD_SIZE=%llu\n", (unsigned long long)res.image_size,
            (unsigned long long)res.payload_size);
    fclose(e);
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_install(const char *dir, const char *alg_name, size_t chunk)
{
    (void)alg_of(alg_name);
    char enc[4096];
    char meta[4096];
    char slot_path[4096];
    path_of(enc, sizeof(enc), dir, alg_name, ".enc");
    path_of(meta, sizeof(meta), dir, alg_name, ".meta");
    path_of(slot_path, sizeof(slot_path), dir, "slot", ".bin");
    static struct secup_payload_result res;
    int m = open(meta, O_RDONLY);
    if (m < 0 || read(m, &res, sizeof(res)) != (ssize_t)sizeof(res))
        die(meta, NULL);
    close(m);

    struct secup_recipient_key key = { SECUP_RECIPIENT_KEK, secup_bytes_of(bench_kek, 16),
                                       secup_bytes_of(bench_kid, sizeof(bench_kid)), NULL };
    struct secup_stream_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.chunk = chunk;
    cfg.encryption_info = secup_bytes_of(res.enc_info, res.enc_info_len);
    cfg.key = &key;
    cfg.image_size = res.image_size;
    cfg.image_digest.alg = -16;
    cfg.image_digest.bytes = secup_bytes_of(res.image_digest, 32);

    struct secup_err err;
    double t0 = now();
    int in = open(enc, O_RDONLY);
    if (in < 0)
        die(enc, NULL);
    struct secup_slot slot;
    if (secup_slot_file_open(&slot, slot_path, res.image_size ? res.image_size : 1,
                             SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE | SECUP_SLOT_TRUNCATE,
                             &err) != SECUP_OK)
        die("slot", &err);
    struct secup_stream *s = NULL;
    if (secup_stream_new(&s, &cfg, &slot, &err) != SECUP_OK)
        die("stream", &err);
    if (secup_stream_pump_fd(s, in, &err) != SECUP_OK || secup_stream_finish(s, &err) != SECUP_OK)
        die("install", &err);
    if (!secup_stream_is_complete(s))
        die("install not complete", NULL);
    secup_stream_free(s);
    slot.ops->close(&slot);
    close(in);
    double t1 = now();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("seconds=%.6f bytes=%llu rss_kib=%ld\n", t1 - t0, (unsigned long long)res.image_size,
           ru.ru_maxrss);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "gen") == 0)
        return cmd_gen(argv[2], strtoull(argv[3], NULL, 10), argv[4],
                       argc > 5 ? strtoull(argv[5], NULL, 0) : 1);
    if (argc >= 4 && strcmp(argv[1], "install") == 0)
        return cmd_install(argv[2], argv[3], argc > 4 ? strtoul(argv[4], NULL, 10) : 0);
    fprintf(stderr, "usage: bench_pipeline gen DIR MIB ctr|gcm [SEED]\n"
                    "       bench_pipeline install DIR ctr|gcm [CHUNK]\n");
    return 2;
}
