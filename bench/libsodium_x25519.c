/*
 * libsodium_x25519.c - time libsodium's X25519 (crypto_scalarmult) on this
 * machine, for comparison with chaff's Go X25519 (see x25519-vs-libsodium.sh).
 *
 * Usage: libsodium_x25519 [duration_ms]   (default 2000)
 * Prints one line: libsodium_x25519_ops_per_sec <float>
 *
 * Build: cc -O2 -march=native libsodium_x25519.c $(pkg-config --cflags --libs libsodium)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

/* Check the clock once per batch so clock_gettime cost is negligible. */
#define BATCH 64
/* Warm-up (caches, CPU frequency) before timing. */
#define WARMUP_SEC 0.2

static double now_sec(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        perror("clock_gettime");
        exit(1);
    }
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fail(const char *what)
{
    fprintf(stderr, "libsodium_x25519: %s failed\n", what);
    exit(1);
}

int main(int argc, char **argv)
{
    long ms = 2000;
    if (argc > 2) {
        fprintf(stderr, "usage: %s [duration_ms]\n", argv[0]);
        return 2;
    }
    if (argc == 2) {
        char *end = NULL;
        errno = 0;
        ms = strtol(argv[1], &end, 10);
        if (errno != 0 || end == argv[1] || *end != '\0' || ms <= 0) {
            fprintf(stderr, "libsodium_x25519: bad duration_ms '%s'\n", argv[1]);
            return 2;
        }
    }

    if (sodium_init() < 0)
        fail("sodium_init");

    unsigned char scalar[crypto_scalarmult_SCALARBYTES];
    unsigned char point[crypto_scalarmult_BYTES];
    unsigned char out[crypto_scalarmult_BYTES];

    /* Random valid public point: base-point multiple of a random scalar. */
    randombytes_buf(scalar, sizeof scalar);
    if (crypto_scalarmult_base(point, scalar) != 0)
        fail("crypto_scalarmult_base");
    randombytes_buf(scalar, sizeof scalar);

    /*
     * Each output is fed back as the next scalar, so no call can be skipped.
     * The point stays fixed and has large order, and a clamped scalar is
     * never a multiple of it, so a -1 (all-zero result) is a real error.
     */
    double warm_start = now_sec();
    do {
        for (int i = 0; i < BATCH; i++) {
            if (crypto_scalarmult(out, scalar, point) != 0)
                fail("crypto_scalarmult (warm-up)");
            memcpy(scalar, out, sizeof scalar);
        }
    } while (now_sec() - warm_start < WARMUP_SEC);

    const double limit = (double)ms / 1000.0;
    unsigned long long ops = 0;
    double start = now_sec();
    double elapsed;
    do {
        for (int i = 0; i < BATCH; i++) {
            if (crypto_scalarmult(out, scalar, point) != 0)
                fail("crypto_scalarmult");
            memcpy(scalar, out, sizeof scalar);
        }
        ops += BATCH;
        elapsed = now_sec() - start;
    } while (elapsed < limit);

    /* Consume the final value so the chain is observable. */
    volatile unsigned char sink = 0;
    for (size_t i = 0; i < sizeof out; i++)
        sink ^= out[i];
    (void)sink;

    printf("libsodium_x25519_ops_per_sec %.1f\n", (double)ops / elapsed);
    return 0;
}
