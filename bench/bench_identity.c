/*
 * bench_identity.c — what identity costs: hashing a password (Argon2id at
 * libsodium's INTERACTIVE limits, what `users add` and each sign-in pay),
 * and sealing / opening one record's raw key and value (what the findings
 * writer pays per masked finding, and a reveal per record). A measuring
 * tool, not a test.
 *
 * Usage: bench_identity [N]   (N records sealed, default 1000000)
 * Prints one line per measurement: "<what>  <time> per <unit>".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "identity/identity.h"
#include "identity/seal.h"
#include "store/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    if (n < 1)
        n = 1;
    struct qloop_error err;
    qloop_error_clear(&err);
    char hash[256];
    double worst = 0, total = 0;
    for (int i = 0; i < 5; i++) {
        double t0 = now_s();
        if (ident_password_hash("correct horse battery", hash, sizeof hash, &err) != 0) {
            fprintf(stderr, "bench_identity: %s\n", err.message);
            return 3;
        }
        double t = now_s() - t0;
        total += t;
        worst = t > worst ? t : worst;
    }
    printf("password hash (Argon2id, INTERACTIVE)  %.3f s mean, %.3f s worst of 5  (%s)\n",
           total / 5, worst, hash);

    sqlite3 *db = store_open(":memory:", &err);
    struct ident_sealer s;
    if (!db || ident_sealer_open(db, &s, &err) != 0) {
        fprintf(stderr, "bench_identity: %s\n", err.message);
        return 3;
    }
    struct qloop_buf blob = {0}, plain = {0};
    char key[32], value[32], ref[33];
    double t0 = now_s();
    size_t bytes = 0;
    for (long i = 0; i < n; i++) {
        int kl = snprintf(key, sizeof key, "3301101990%08ld", i);
        int vl = snprintf(value, sizeof value, "1380013%04ld", i % 10000);
        snprintf(ref, sizeof ref, "%032lx", (unsigned long)i);
        struct ident_record r = {key, (size_t)kl, value, (size_t)vl};
        ident_seal(&s, "population", ref, "phone", &r, &blob);
        bytes += blob.len;
    }
    double seal = now_s() - t0;
    printf("seal one record  %.0f ns  (%ld records, %.1f bytes each)\n", seal / (double)n * 1e9, n,
           (double)bytes / (double)n);
    struct ident_record out;
    t0 = now_s();
    for (long i = 0; i < n; i++)
        if (ident_unseal(&s, "population", ref, "phone", blob.ptr, blob.len, &plain, &out, &err) != 0)
            return 3;
    printf("open one record  %.0f ns\n", (now_s() - t0) / (double)n * 1e9);
    qloop_buf_free(&blob);
    qloop_buf_free(&plain);
    ident_sealer_close(&s);
    store_close(db);
    return 0;
}
