/*
 * test_pack_mutations.c — broken rule files are normal input: thousands of
 * mutated rule packs (characters flipped, deleted, inserted; declarations
 * cut in half) are loaded. Each must load or stop with a message naming the
 * file — never crash, hang or leak (the suite runs this under ASan with
 * LeakSanitizer too: an error raised half-way through a declaration must not
 * lose what was allocated for it). The PRNG is seeded, so a failure replays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "seeded_rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules/pack.h"

static uint64_t rng_state = 42;

static uint64_t rnd(void) { return seeded_next(&rng_state); }

static const char seed[] =
    "dataset \"p\" { source = \"p.csv\", key = { \"id\", \"n\" }, owner = \"市公安局\",\n"
    "  update_cycle = \"daily\", updated_at = \"t\", sensitive = { \"id\", \"name\" } }\n"
    "dataset \"q\" { source = \"q.csv\", key = \"id\" }\n"
    "cleanse \"p\" { phone = { clean.halfwidth, clean.trim }, d = clean.date,\n"
    "  x = function(s) return s:upper() end }\n"
    "rule \"p.a\" { field = \"phone\", pattern = \"^1[3-9]\\\\d{9}$\", not_null = true,\n"
    "  dimension = \"normative\", severity = \"high\", message = \"手机号\" }\n"
    "rule \"p.b\" { field = \"sex\", one_of = { \"男\", \"女\", 1 } }\n"
    "rule \"p.c\" { field = \"age\", range = { 0, 150 } }\n"
    "rule \"p.d\" { field = \"id\", check = idcard.valid, unique = true }\n"
    "rule \"p.e\" { field = \"dc\", references = \"q.id\" }\n"
    "rule \"p.f\" { check = function(r) return r.a == r.b, \"不同\" end }\n"
    "compare \"c\" { left = \"p\", right = \"q\", key = { \"id\", \"n\" }, right_key = { \"id\", \"m\" },\n"
    "  fields = { name = \"nm\", d = { field = \"dd\", date = true, tolerance = 1 },\n"
    "             e = { normalize = clean.trim, equal = function(a, b) return a == b end } },\n"
    "  authority = \"left\" }\n";

static size_t mutate(char *buf, size_t len, size_t cap)
{
    static const char pieces[] = "{}\"(),=.\\\n 0aZ中";
    int edits = 1 + (int)(rnd() % 4);
    for (int e = 0; e < edits; e++) {
        size_t at = len ? (size_t)(rnd() % len) : 0;
        switch (rnd() % 4) {
        case 0:
            if (len)
                buf[at] = pieces[rnd() % (sizeof pieces - 1)];
            break;
        case 1:
            if (len + 1 < cap) {
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = pieces[rnd() % (sizeof pieces - 1)];
                len++;
            }
            break;
        case 2:
            if (len) {
                size_t n = 1 + (size_t)(rnd() % 12);
                if (at + n > len)
                    n = len - at;
                memmove(buf + at, buf + at + n, len - at - n);
                len -= n;
            }
            break;
        default:
            len = at;
            break;
        }
    }
    return len;
}

static void test_mutated_packs(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/qloop-pack-%d.lua", (int)getpid());
    size_t cap = sizeof seed + 256;
    char *buf = malloc(cap);
    int loaded = 0, refused = 0;
    /* the seed itself is a valid pack */
    for (int r = -1; r < 3000; r++) {
        memcpy(buf, seed, sizeof seed - 1);
        size_t len = r < 0 ? sizeof seed - 1 : mutate(buf, sizeof seed - 1, cap);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, len, f), len);
        fclose(f);
        struct pack *p = pack_new();
        assert_non_null(p);
        struct qloop_error err;
        qloop_error_clear(&err);
        int rc = pack_load_path(p, path, &err);
        if (rc == 0)
            rc = pack_finish(p, &err);
        if (rc == 0) {
            loaded++;
        } else {
            refused++;
            assert_true(err.message[0] != '\0');
            assert_true(err.file[0] != '\0');
        }
        if (r < 0) {
            if (rc != 0)
                fail_msg("the seed pack must load: %s:%ld: %s", err.file, err.line, err.message);
            assert_int_equal(p->nrules, 6);
            assert_int_equal(p->ncompares, 1);
        }
        pack_free(p);
    }
    unlink(path);
    free(buf);
    print_message("%d mutated packs loaded, %d refused with a message\n", loaded, refused);
    assert_true(loaded > 30);
    assert_true(refused > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutated_packs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
