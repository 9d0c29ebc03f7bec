/*
 * test_shard_fp.c — the rule pack's fingerprint a shard carries (run/shard.h):
 * it stands for the rule files as the pack loaded them, by content only.
 *
 * `qloop judge` writes it into each shard's header and `qloop merge` refuses
 * a shard whose fingerprint differs from its own pack's. A rule file edited
 * after the pack loaded it must not change it (the judge ran the code it
 * loaded, not the edit); the same files under other paths fingerprint
 * alike; a changed file loaded again does not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rules/pack.h"
#include "run/shard.h"

static const char PACK_A[] = "dataset \"d\" { key = \"id\" }\n";
static const char PACK_B[] = "rule \"d.r\" { check = function(r) return r.v ~= 'x' end }\n";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Loads the files in order into a new pack and fingerprints it into out;
 * returns the pack (the caller frees it). */
static struct pack *load(const char *const *paths, size_t n, char out[65])
{
    struct qloop_error err;
    struct pack *p = pack_new();
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pack_load_path(p, paths[i], &err), 0);
    assert_int_equal(pack_finish(p, &err), 0);
    shard_pack_fingerprint(p, out);
    assert_int_equal(strlen(out), 64);
    return p;
}

static void test_fingerprint_as_loaded(void **state)
{
    (void)state;
    char dir[] = "/tmp/qloop-shardfp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[256], b[256], a2[256], b2[256];
    snprintf(a, sizeof a, "%s/a.lua", dir);
    snprintf(b, sizeof b, "%s/b.lua", dir);
    snprintf(a2, sizeof a2, "%s/a2.lua", dir);
    snprintf(b2, sizeof b2, "%s/b2.lua", dir);
    write_file(a, PACK_A);
    write_file(b, PACK_B);
    write_file(a2, PACK_A);
    write_file(b2, PACK_B);

    const char *ab[] = {a, b}, *ab2[] = {a2, b2};
    char loaded[65], again[65], moved[65], edited[65];
    struct pack *p = load(ab, 2, loaded);

    /* edited on disk after loading: the loaded pack's fingerprint stays */
    write_file(b, "rule \"d.r\" { check = function(r) return r.v ~= 'y' end }\n");
    shard_pack_fingerprint(p, again);
    assert_string_equal(loaded, again);
    pack_free(p);

    /* the same bytes under other paths: alike */
    pack_free(load(ab2, 2, moved));
    assert_string_equal(loaded, moved);

    /* the edit, loaded: another fingerprint */
    pack_free(load(ab, 2, edited));
    assert_string_not_equal(loaded, edited);

    for (size_t i = 0; i < 2; i++) {
        unlink(ab[i]);
        unlink(ab2[i]);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_as_loaded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
