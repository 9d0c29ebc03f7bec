/*
 * test_compare.c — 比对 (engine/run/compare*.c) without the run loop.
 *
 * Each test writes a small rule file, loads it with pack_new/pack_load_path,
 * feeds hand-made batches through compare_feed and calls compare_finish on a
 * temporary store, then reads back the findings and rule_results rows and the
 * summary objects: plain and composite keys, duplicates, empty keys,
 * normalised, tolerant, date and custom-compared fields, both authorities,
 * masking, missing columns, a run forced to spill by a tiny budget that
 * must give the same findings as an in-memory one, and records past the
 * hold kept in a file and read back (or spilled) with the same findings.
 * test_compare_files.c holds the temporary files the disk refuses.
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

#include "base/buf.h"
#include "run/compare.h"
#include "run/findings.h"
#include "run/stage.h"
#include "checks/mask.h"
#include "rules/pack.h"
#include "store/store.h"

#include "compare_helpers.h"

/* Checks rule_results and the summary object of rule id. */
static void assert_rule(const char *id, const char *dataset, int64_t checked, int64_t failed,
                        int64_t errors)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM rule_results WHERE run_id='r1' AND rule='%s' AND dataset='%s'"
             " AND dimension='consistency' AND checked=%lld AND failed=%lld AND errors=%lld",
             id, dataset, (long long)checked, (long long)failed, (long long)errors);
    if (query_int(sql) != 1) {
        sqlite3_stmt *st;
        char q[256];
        snprintf(q, sizeof q, "SELECT dataset, checked, failed, errors FROM rule_results WHERE rule='%s'", id);
        sqlite3_prepare_v2(F.db, q, -1, &st, NULL);
        if (sqlite3_step(st) == SQLITE_ROW)
            fail_msg("%s: got %s checked %lld failed %lld errors %lld, want %s %lld %lld %lld", id,
                     sqlite3_column_text(st, 0), (long long)sqlite3_column_int64(st, 1),
                     (long long)sqlite3_column_int64(st, 2), (long long)sqlite3_column_int64(st, 3),
                     dataset, (long long)checked, (long long)failed, (long long)errors);
        fail_msg("%s: no rule_results row", id);
    }
    size_t i;
    json_t *o;
    json_array_foreach(F.summary, i, o) {
        if (strcmp(json_string_value(json_object_get(o, "id")), id) != 0)
            continue;
        assert_string_equal(json_string_value(json_object_get(o, "dataset")), dataset);
        assert_int_equal(json_integer_value(json_object_get(o, "checked")), checked);
        assert_int_equal(json_integer_value(json_object_get(o, "failed")), failed);
        assert_int_equal(json_integer_value(json_object_get(o, "errors")), errors);
        return;
    }
    fail_msg("%s: not in the summary", id);
}

/* ---- the basic compare, no authority ---- */

static const char *const PEOPLE[] = {"person_id", "name", "birth_date"};
static const char *const SOCIAL[] = {"pid", "name", "birth"};

static const char BASIC[] =
    "dataset 'people' { key = 'person_id', owner = '市公安局' }\n"
    "dataset 'social' { key = 'pid', owner = '市人力社保局' }\n"
    "compare 'pvs' { left = 'people', right = 'social', key = 'person_id', right_key = 'pid',\n"
    "  fields = { name = 'name', birth_date = { field = 'birth', date = true } } }\n";

static void feed_basic(void)
{
    static const char *const left[] = {
        "A1", "张三", "1990-01-05",
        "A2", "李四", "1985-03-07",
        "A3", "王五", "2000-12-31",
        "A4", "赵六", "1970-06-01",
        "A5", "钱七", "1999-09-09",
    };
    static const char *const right1[] = {
        "A2", "李四", "1985/3/7",    /* same date written differently */
        "A1", "张叁", "1990-01-05",  /* name differs */
    };
    static const char *const right2[] = {
        "A3", "王五", "2000-12-30",  /* date differs */
        "A9", "孙九", "1980-01-01",  /* only on the right */
        "A5", "钱七", NULL,          /* birth missing on the right */
    };
    feed("people", PEOPLE, 3, left, 5, 1);
    feed("social", SOCIAL, 3, right1, 2, 1);
    feed("social", SOCIAL, 3, right2, 3, 3);
    feed("unrelated", PEOPLE, 3, left, 5, 1); /* ignored */
}

static void test_basic(void **state)
{
    (void)state;
    load(BASIC, 0);
    feed_basic();
    finish();
    assert_false(compare_spilled(F.c));
    char *got = F.text = findings("id");
    assert_contains(got, "people|pvs.missing_in_right|4|A4|-|-|在 social 中找不到对应记录（person_id=A4）\n");
    assert_contains(got, "social|pvs.missing_in_left|4|A9|-|-|在 people 中找不到对应记录（pid=A9）\n");
    assert_contains(got, "people|pvs.mismatch.name|1|A1|name|张三|name 不一致：people 为 张三，social 为 张叁\n");
    assert_contains(got, "people|pvs.mismatch.birth_date|3|A3|birth_date|2000-12-31|birth_date 不一致：people 为 2000-12-31，social 为 2000-12-30\n");
    assert_contains(got, "people|pvs.mismatch.birth_date|5|A5|birth_date|1999-09-09|birth_date 不一致：people 为 1999-09-09，social 为 （空）\n");
    assert_lacks(got, "|2|A2|");           /* equal after reading both dates */
    assert_int_equal(query_int("SELECT count(*) FROM findings"), 5);
    assert_rule("pvs.missing_in_right", "people", 5, 1, 0);
    assert_rule("pvs.missing_in_left", "social", 5, 1, 0);
    assert_rule("pvs.mismatch.name", "people", 4, 1, 0);
    assert_rule("pvs.mismatch.birth_date", "people", 4, 2, 0);
    assert_rule("pvs.duplicate_key_left", "people", 5, 0, 0);
    assert_rule("pvs.duplicate_key_right", "social", 5, 0, 0);
    assert_rule("pvs.empty_key_left", "people", 5, 0, 0);
    assert_rule("pvs.empty_key_right", "social", 5, 0, 0);
    assert_int_equal(json_array_size(F.summary), 8);
    /* summary order: missing_in_right, missing_in_left, mismatch.* by field, then the rest */
    assert_string_equal(json_string_value(json_object_get(json_array_get(F.summary, 2), "id")),
                        "pvs.mismatch.birth_date");
    /* distinct records: people rows 1, 3, 4, 5 and social row 4 */
    assert_int_equal(F.failed, 5);
    /* record_ref is the store's ref of (dataset, own key), as the run computes it */
    char ref[33];
    store_record_ref(F.db, "social", "A9", 2, ref);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM findings WHERE dataset='social' AND record_ref='%s'", ref);
    assert_int_equal(query_int(sql), 1);
    assert_int_equal(query_int("SELECT resolve_missing FROM rule_results WHERE rule='pvs.missing_in_right'"), 1);
}

/* ---- authority ---- */

static void test_authority_left(void **state)
{
    (void)state;
    char lua[1024];
    snprintf(lua, sizeof lua, "%.*s, authority = 'left' }\n", (int)(strlen(BASIC) - 3), BASIC);
    load(lua, 0);
    feed_basic();
    finish();
    char *got = F.text = findings("id");
    /* everything goes to social, the copy */
    assert_contains(got, "social|pvs.missing_in_right|-|A4|-|-|本方缺少记录：权威方 people 数据第 4 行（不计表头）有此记录（person_id=A4）\n");
    assert_contains(got, "social|pvs.missing_in_left|4|A9|-|-|权威方 people 中找不到对应记录（pid=A9）\n");
    assert_contains(got, "social|pvs.mismatch.name|2|A1|name|张叁|name 不一致：本方 张叁，权威方 张三\n");
    assert_contains(got, "social|pvs.mismatch.birth_date|5|A5|birth|-|birth 不一致：本方 （空），权威方 1999-09-09\n");
    assert_int_equal(query_int("SELECT count(*) FROM findings WHERE dataset='people'"), 0);
    assert_rule("pvs.missing_in_right", "social", 5, 1, 0);
    assert_rule("pvs.missing_in_left", "social", 5, 1, 0);
    assert_rule("pvs.mismatch.name", "social", 4, 1, 0);
    assert_int_equal(query_int("SELECT resolve_missing FROM rule_results WHERE rule='pvs.missing_in_right'"), 0);
    assert_int_equal(query_int("SELECT count(*) FROM rule_results WHERE rule='pvs.mismatch.name' AND field='name'"), 1);
    /* the missing record is identified on social by its key: when it is added, the run sees it */
    char ref[33], sql[200];
    store_record_ref(F.db, "social", "A4", 2, ref);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM findings WHERE rule='pvs.missing_in_right' AND record_ref='%s'", ref);
    assert_int_equal(query_int(sql), 1);
    /* social rows 2, 3, 4, 5 (A1, A3, A9, A5) and the A4 social lacks */
    assert_int_equal(F.failed, 5);
}

static void test_authority_right(void **state)
{
    (void)state;
    char lua[1024];
    snprintf(lua, sizeof lua, "%.*s, authority = 'right' }\n", (int)(strlen(BASIC) - 3), BASIC);
    load(lua, 0);
    feed_basic();
    finish();
    char *got = F.text = findings("id");
    assert_contains(got, "people|pvs.missing_in_right|4|A4|-|-|权威方 social 中找不到对应记录（person_id=A4）\n");
    assert_contains(got, "people|pvs.missing_in_left|-|A9|-|-|本方缺少记录：权威方 social 数据第 4 行（不计表头）有此记录（pid=A9）\n");
    assert_contains(got, "people|pvs.mismatch.name|1|A1|name|张三|name 不一致：本方 张三，权威方 张叁\n");
    assert_int_equal(query_int("SELECT count(*) FROM findings WHERE dataset='social'"), 0);
    assert_rule("pvs.missing_in_left", "people", 5, 1, 0);
    assert_rule("pvs.mismatch.birth_date", "people", 4, 2, 0);
}

/* ---- masking ---- */

static void test_masking(void **state)
{
    (void)state;
    load("dataset 'people' { key = 'person_id', sensitive = { 'person_id', 'name' } }\n"
         "dataset 'social' { key = 'pid' }\n"
         "compare 'pvs' { left = 'people', right = 'social', key = 'person_id', right_key = 'pid',\n"
         "  authority = 'left', fields = { name = 'name', sex = 'sex' } }\n",
         0);
    static const char *const ln[] = {"person_id", "name", "sex"};
    static const char *const rn[] = {"pid", "name", "sex"};
    static const char *const left[] = {
        "330102199001051234", "张三", "男",
        "330102199001052345", "王小明", "男",
    };
    static const char *const right[] = {
        "330102199001051234", "李四", "女",
    };
    feed("people", ln, 3, left, 2, 1);
    feed("social", rn, 3, right, 1, 1);
    finish();
    char *got = F.text = findings("id");
    /* the identity numbers masked as mask_sensitive masks them */
    struct qloop_buf k1 = {0}, k2 = {0}, want = {0};
    mask_sensitive("330102199001051234", 18, &k1);
    mask_sensitive("330102199001052345", 18, &k2);
    assert_string_not_equal(k1.ptr, "330102199001051234");
    /* social does not declare name sensitive, people does: both values masked */
    qloop_buf_printf(&want, "social|pvs.mismatch.name|1|%s|name|李*|name 不一致：本方 李*，权威方 张*\n", k1.ptr);
    assert_contains(got, want.ptr);
    /* sex is sensitive nowhere */
    qloop_buf_reset(&want);
    qloop_buf_printf(&want, "social|pvs.mismatch.sex|1|%s|sex|女|sex 不一致：本方 女，权威方 男\n", k1.ptr);
    assert_contains(got, want.ptr);
    qloop_buf_reset(&want);
    qloop_buf_printf(&want, "social|pvs.missing_in_right|-|%s|-|-|本方缺少记录：权威方 people 数据第 2 行（不计表头）有此记录（person_id=%s）\n",
                     k2.ptr, k2.ptr);
    assert_contains(got, want.ptr);
    qloop_buf_free(&k1);
    qloop_buf_free(&k2);
    qloop_buf_free(&want);
    assert_lacks(got, "张三");
    assert_lacks(got, "李四");
    assert_lacks(got, "199001051234");
    /* the ref is still made from the real key */
    char ref[33], sql[200];
    store_record_ref(F.db, "social", "330102199001051234", 18, ref);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM findings WHERE record_ref='%s'", ref);
    assert_int_equal(query_int(sql), 2);
}

/* ---- composite keys, own keys, duplicates and empty keys ---- */

static void test_composite_duplicates_empty(void **state)
{
    (void)state;
    load("dataset 'a' { key = 'id' }\n"
         "dataset 'b' { key = { 'x', 'y' } }\n"
         "compare 'ab' { left = 'a', right = 'b', key = { 'k1', 'k2' }, right_key = { 'x', 'y' },\n"
         "  fields = { v = 'w' } }\n",
         0);
    static const char *const an[] = {"id", "k1", "k2", "v"};
    static const char *const a[] = {
        "r1", "1", "23", "p",  /* must not meet b's 12|3 */
        "r2", "12", "3", "q",  /* pairs with b row 2 */
        "r3", "7", "7", "s",   /* duplicated on a */
        "r4", "7", "7", "t",
        "r5", "", "9", "u",    /* empty key part */
        "r6", "8", "8", "v",   /* key duplicated on b */
        "r7", "5", NULL, "z",  /* absent key part */
    };
    static const char *const b[] = {
        "12", "3", "q",
        "8", "8", "v",
        "8", "8", "v2",
        "7", "7", "s",
        " ", "4", "x",         /* blank key part */
    };
    feed("a", an, 4, a, 7, 1);
    /* b's columns come in another order than declared: found by name */
    static const char *const b_reordered[] = {"w", "y", "x"};
    const char *rows[15];
    for (size_t i = 0; i < 5; i++) {
        rows[i * 3 + 0] = b[i * 3 + 2];
        rows[i * 3 + 1] = b[i * 3 + 1];
        rows[i * 3 + 2] = b[i * 3 + 0];
    }
    feed("b", b_reordered, 3, rows, 5, 1);
    finish();
    char *got = F.text = findings("id");
    assert_contains(got, "a|ab.missing_in_right|1|r1|-|-|在 b 中找不到对应记录（k1|k2=1|23）\n");
    assert_contains(got, "a|ab.duplicate_key_left|3|r3|-|7|7|比对键 k1|k2=7|7 在 a 中出现 2 次，无法与 b 配对\n");
    assert_contains(got, "a|ab.duplicate_key_left|4|r4|-|7|7|比对键 k1|k2=7|7 在 a 中出现 2 次，无法与 b 配对\n");
    assert_contains(got, "b|ab.duplicate_key_right|2|8|8|-|8|8|比对键 x|y=8|8 在 b 中出现 2 次，无法与 a 配对\n");
    assert_contains(got, "b|ab.duplicate_key_right|3|8|8|-|8|8|");
    assert_contains(got, "a|ab.empty_key_left|5|r5|-|-|比对键 k1、k2 为空，无法与 b 配对\n");
    assert_contains(got, "a|ab.empty_key_left|7|r7|-|-|");
    assert_contains(got, "b|ab.empty_key_right|5| |4|-|-|比对键 x、y 为空，无法与 a 配对\n");
    /* duplicates are not paired: no mismatch for r6 (v vs v/v2), not missing either;
       b's 7|7 is not missing in a (the key is there, twice) */
    assert_lacks(got, "mismatch");
    assert_lacks(got, "missing_in_left");
    assert_int_equal(query_int("SELECT count(*) FROM findings"), 8);
    assert_rule("ab.missing_in_right", "a", 3, 1, 0); /* r1, r2, r6 */
    assert_rule("ab.missing_in_left", "b", 2, 0, 0);  /* 12|3 and 7|7 */
    assert_rule("ab.mismatch.v", "a", 1, 0, 0);       /* r2 only */
    assert_rule("ab.duplicate_key_left", "a", 5, 2, 0);
    assert_rule("ab.duplicate_key_right", "b", 4, 2, 0);
    assert_rule("ab.empty_key_left", "a", 7, 2, 0);
    assert_rule("ab.empty_key_right", "b", 5, 1, 0);
    /* a: r1, r3, r4, r5, r7; b: rows 2, 3, 5 */
    assert_int_equal(F.failed, 8);
}

/* ---- normalize, tolerance, custom comparators, errors ---- */

static void test_normalize_tolerance_equal(void **state)
{
    (void)state;
    load("dataset 'l' { key = 'id' }\n"
         "dataset 'r' { key = 'id' }\n"
         "compare 'lr' { left = 'l', right = 'r',\n"
         "  fields = {\n"
         "    code = { normalize = clean.upper },\n"
         "    tel = { field = 'phone', normalize = function(s) return (s:gsub('%D', '')) end },\n"
         "    amount = { tolerance = 0.5 },\n"
         "    addr = { equal = function(a, b) return a == b or (a ~= nil and b ~= nil and a:sub(1, 18) == b:sub(1, 18)) end },\n"
         "    note = { equal = function(a, b) if a == 'boom' then error('比较失败') end return a == b end },\n"
         "    gone = { normalize = function(s) return nil end },\n"
         "  } }\n",
         0);
    static const char *const ln[] = {"id", "code", "tel", "amount", "addr", "note", "gone"};
    static const char *const rn[] = {"id", "code", "phone", "amount", "addr", "note", "gone"};
    static const char *const l[] = {
        "1", "ab12", "138-0000-1111", "10.0", "宁波市海曙区", "ok", "x",
        "2", "cd34", "138 0000 2222", "10.0", "宁波市江北区", "boom", "y",
        "3", "ef56", "13800003333", "abc", "杭州市上城区", "n", "z",
    };
    static const char *const r[] = {
        "1", "AB12", "13800001111", "10.4", "宁波市海曙区某路", "ok", "other",
        "2", "CD35", "13800002223", "10.6", "宁波市鄞州区", "boom", "",
        "3", "EF56", "13800003333", "abc", "杭州市上城区", "m", "w",
    };
    feed("l", ln, 7, l, 3, 1);
    feed("r", rn, 7, r, 3, 1);
    finish();
    char *got = F.text = findings("id");
    assert_contains(got, "l|lr.mismatch.code|2|2|code|cd34|code 不一致：l 为 cd34，r 为 CD35\n");
    /* The message is free text: what has a phone's shape is masked there
     * (findings.c), though the field is not declared sensitive. */
    assert_contains(got, "l|lr.mismatch.tel|2|2|tel|138 0000 2222|tel 不一致：l 为 138 **** 2222，r 为 138****2223\n");
    assert_contains(got, "l|lr.mismatch.amount|2|2|amount|10.0|");
    assert_contains(got, "l|lr.mismatch.addr|2|2|addr|");
    assert_contains(got, "l|lr.mismatch.note|3|3|note|n|note 不一致：l 为 n，r 为 m\n");
    assert_lacks(got, "|1|1|");       /* record 1 equal on every field */
    assert_lacks(got, "lr.mismatch.gone"); /* normalised away on both sides */
    assert_rule("lr.mismatch.code", "l", 3, 1, 0);
    assert_rule("lr.mismatch.tel", "l", 3, 1, 0);
    /* "abc" vs "abc": equal as text even though not numbers */
    assert_rule("lr.mismatch.amount", "l", 3, 1, 0);
    assert_rule("lr.mismatch.addr", "l", 3, 1, 0);
    assert_rule("lr.mismatch.note", "l", 2, 1, 1);
    assert_rule("lr.mismatch.gone", "l", 3, 0, 0);
}

/* A tolerance field's value is read as a number up to its end: the bytes
 * stored after it (here the next field's length, 49 = '1') are not part of
 * it. Equal within tolerance: no finding. */
static void test_tolerance_value_end(void **state)
{
    (void)state;
    load("dataset 'l' { key = 'id' }\n"
         "dataset 'r' { key = 'id' }\n"
         "compare 'lr' { left = 'l', right = 'r',\n"
         "  fields = { amount = { tolerance = 1 }, note = 'note' } }\n",
         0);
    static const char *const names[] = {"id", "amount", "note"};
    static const char note[] = "1234567890123456789012345678901234567890123456789"; /* 49 */
    static const char *const l[] = {"1", "10", note, "2", "7", "x"};
    static const char *const r[] = {"1", "10.5", note, "2", "7", "x"};
    set_jobs(2);
    feed("l", names, 3, l, 2, 1);
    feed("r", names, 3, r, 2, 1);
    finish();
    assert_rule("lr.mismatch.amount", "l", 2, 0, 0);
}

static void test_missing_column(void **state)
{
    (void)state;
    load(BASIC, 0);
    static const char *const bad[] = {"pid", "name"};
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(compare_check_columns(F.c, "people", PEOPLE, 3, &err), 0);
    assert_int_equal(compare_check_columns(F.c, "social", bad, 2, &err), -1);
    assert_non_null(strstr(err.message, "\"birth\""));
    assert_non_null(strstr(err.message, "social"));
    assert_string_equal(err.file, F.rules);
    assert_int_equal(err.line, 3);
    /* a source that never had the column fails at finish */
    static const char *const row[] = {"A1", "张三"};
    feed("social", bad, 2, row, 1, 1);
    qloop_error_clear(&err);
    struct compare_emit_ctx ctx = {.db = F.db, .run_id = "r1", .findings = F.w};
    assert_int_equal(compare_finish(F.c, &ctx, F.summary, &F.failed, &err), -1);
    assert_non_null(strstr(err.message, "\"birth\""));
}

/* ---- spilling ---- */

/* A deterministic pseudo-random stream. */
static uint64_t rnd_state;
static uint64_t rnd(void)
{
    rnd_state += UINT64_C(0x9e3779b97f4a7c15);
    uint64_t z = rnd_state;
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static const char SPILL_RULES[] =
    "dataset 'people' { key = 'person_id', sensitive = { 'name' } }\n"
    "dataset 'social' { key = 'pid' }\n"
    "compare 'pvs' { left = 'people', right = 'social', key = 'person_id', right_key = 'pid',\n"
    "  authority = 'left',\n"
    "  fields = { name = 'name', birth_date = { field = 'birth', date = true },\n"
    "             amount = { tolerance = 1, normalize = function(s) return s end } } }\n";

/* No Lua: the findings may be made on several threads. */
static const char JOBS_RULES[] =
    "dataset 'people' { key = 'person_id', sensitive = { 'name' } }\n"
    "dataset 'social' { key = 'pid' }\n"
    "compare 'pvs' { left = 'people', right = 'social', key = 'person_id', right_key = 'pid',\n"
    "  authority = 'left',\n"
    "  fields = { name = { field = 'name', normalize = clean.trim },\n"
    "             birth_date = { field = 'birth', date = true }, amount = { tolerance = 1 } } }\n";

/* As JOBS_RULES, but social's own key (name) is not the compare key: each of
 * its records carries its own key, made by the reader's callback. */
static const char JOBS_RULES_OWN[] =
    "dataset 'people' { key = 'person_id' }\n"
    "dataset 'social' { key = 'name' }\n"
    "compare 'pvs' { left = 'people', right = 'social', key = 'person_id', right_key = 'pid',\n"
    "  fields = { birth_date = { field = 'birth', date = true }, amount = { tolerance = 1 } } }\n";

/* compare_set_emit_ahead's values for gen_run (0, 0: the defaults). */
static size_t ahead_rounds, ahead_bytes;
/* compare_set_hold's value for gen_run (0: the default). */
static size_t hold_bytes;

/* Runs rules over n generated records per side (a multiple of 500) with
 * budget and jobs threads; returns the findings (in order_by) and rule
 * results as text. */
/* Sets up rules with budget and jobs threads and feeds n generated records
 * per side (a multiple of 500). */
static void gen_feed(const char *rules, size_t n, size_t budget, size_t jobs)
{
    enum { BATCH = 500 };
    const size_t N = n;
    setup(NULL);
    load(rules, budget);
    set_jobs(jobs);
    compare_set_emit_ahead(F.c, ahead_rounds, ahead_bytes);
    if (hold_bytes)
        compare_set_hold(F.c, hold_bytes);
    rnd_state = 42;
    char (*lcells)[4][40] = calloc(N, sizeof *lcells);
    char (*rcells)[4][40] = calloc(N, sizeof *rcells);
    for (size_t i = 0; i < N; i++) {
        uint64_t id = i % 997 == 5 ? i - 1 : i; /* some duplicates */
        if (i % 1001 != 7) /* some empty keys */
            snprintf(lcells[i][0], 40, "P%06llu", (unsigned long long)id);
        snprintf(lcells[i][1], 40, "姓名%llu", (unsigned long long)(rnd() % 50));
        snprintf(lcells[i][2], 40, "19%02llu-%02llu-%02llu", (unsigned long long)(rnd() % 100),
                 (unsigned long long)(rnd() % 12 + 1), (unsigned long long)(rnd() % 28 + 1));
        snprintf(lcells[i][3], 40, "%llu", (unsigned long long)(rnd() % 1000));
        /* the right side: shuffled ids, some missing, some differing */
        uint64_t j = (i * 7919) % N;
        uint64_t r = rnd() % 100;
        if (r < 3)
            snprintf(rcells[j][0], 40, "Q%06llu", (unsigned long long)i); /* extra */
        else
            snprintf(rcells[j][0], 40, "P%06llu", (unsigned long long)i);
        snprintf(rcells[j][1], 40, "%s", r < 10 ? "别名" : "");
        snprintf(rcells[j][2], 40, "%s", "");
        snprintf(rcells[j][3], 40, "%s", "");
    }
    /* the right side's values follow the left's record of the same id */
    for (size_t i = 0; i < N; i++) {
        uint64_t j = (i * 7919) % N;
        if (rcells[j][1][0] == '\0')
            snprintf(rcells[j][1], 40, "%s", lcells[i][1]);
        int y, m, d;
        sscanf(lcells[i][2], "%d-%d-%d", &y, &m, &d);
        if (i % 5 == 0)
            snprintf(rcells[j][2], 40, "%d/%d/%d", y, m, d);
        else if (i % 13 == 0)
            snprintf(rcells[j][2], 40, "%d-%02d-%02d", y + 1, m, d);
        else
            snprintf(rcells[j][2], 40, "%s", lcells[i][2]);
        snprintf(rcells[j][3], 40, "%lld", atoll(lcells[i][3]) + (long long)(i % 3));
    }
    static const char *const ln[] = {"person_id", "name", "birth_date", "amount"};
    static const char *const rn[] = {"pid", "name", "birth", "amount"};
    const char **rows = calloc(BATCH * 4, sizeof *rows);
    for (int side = 0; side < 2; side++)
        for (size_t at = 0; at < N; at += BATCH) {
            for (size_t i = 0; i < BATCH; i++)
                for (size_t k = 0; k < 4; k++)
                    rows[i * 4 + k] = side == 0 ? lcells[at + i][k] : rcells[at + i][k];
            feed(side == 0 ? "people" : "social", side == 0 ? ln : rn, 4, rows, BATCH, at + 1);
        }
    free(rows);
    free(lcells);
    free(rcells);
}

/* compare_units_ahead and compare_spill_blocks_behind of gen_run's last compare. */
static size_t last_units_ahead, last_blocks_behind;
/* compare_spill_sizes of gen_run's last compare. */
static uint64_t last_mem, last_file;
/* compare_over_records of gen_run's last compare. */
static uint64_t last_over;

static char *gen_run(const char *rules, size_t n, size_t budget, size_t jobs,
                     const char *order_by, bool *spilled, int64_t *failed)
{
    gen_feed(rules, n, budget, jobs);
    finish();
    last_units_ahead = compare_units_ahead(F.c);
    last_blocks_behind = compare_spill_blocks_behind(F.c);
    compare_spill_sizes(F.c, &last_mem, &last_file);
    last_over = compare_over_records(F.c);
    *spilled = compare_spilled(F.c);
    *failed = F.failed;
    char *f = findings(order_by);
    struct qloop_buf b = {0};
    qloop_buf_append(&b, f, strlen(f));
    free(f);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(F.db,
                                        "SELECT rule, dataset, checked, failed, errors FROM rule_results ORDER BY rule",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        qloop_buf_printf(&b, "%s %s %lld %lld %lld\n", sqlite3_column_text(st, 0),
                         sqlite3_column_text(st, 1), (long long)sqlite3_column_int64(st, 2),
                         (long long)sqlite3_column_int64(st, 3), (long long)sqlite3_column_int64(st, 4));
    sqlite3_finalize(st);
    char *s = json_dumps(F.summary, JSON_COMPACT);
    qloop_buf_append(&b, s, strlen(s));
    free(s);
    teardown(NULL);
    return b.ptr;
}

/* Runs SPILL_RULES over 3000 records per side with budget; returns the
 * findings (sorted) and rule results as text. */
static char *spill_run(size_t budget, bool *spilled, int64_t *failed)
{
    return gen_run(SPILL_RULES, 3000, budget, 1, "dataset, rule, row_no, record_key, message",
                   spilled, failed);
}

/* The findings, in the order stored, and the counts are the same for any
 * number of threads: in memory (one unit, several rounds of slices) and
 * spilled (many units); and spilled ones are those in memory. */
static void test_jobs_same_findings(void **state)
{
    (void)state;
    enum { N = 20000 }; /* per side: more rows than 2 threads take in one round */
    bool spilled;
    int64_t f1, fj, fs1, fsj;
    char *one = gen_run(JOBS_RULES, N, 0, 1, "id", &spilled, &f1);
    assert_false(spilled);
    static const char *const kinds[] = {"pvs.mismatch.amount", "pvs.mismatch.name",
                                        "pvs.missing_in_left", "pvs.duplicate_key_left",
                                        "pvs.empty_key_left", NULL};
    for (size_t i = 0; kinds[i]; i++)
        assert_non_null(strstr(one, kinds[i]));
    for (size_t jobs = 2; jobs <= 3; jobs++) {
        char *many = gen_run(JOBS_RULES, N, 0, jobs, "id", &spilled, &fj);
        assert_false(spilled);
        assert_string_equal(one, many);
        assert_int_equal(f1, fj);
        free(many);
    }
    /* the helpers held back to 1, 2 or 3 rounds (the workers' sets reused
     * round after round) or to 1 byte ahead of the store: the same again */
    static const size_t holds[][3] = {{1, 0, 2}, {2, 1, 2}, {3, 0, 3}, {2, 1, 3}};
    for (size_t i = 0; i < sizeof holds / sizeof holds[0]; i++) {
        ahead_rounds = holds[i][0], ahead_bytes = holds[i][1];
        char *held = gen_run(JOBS_RULES, N, 0, holds[i][2], "id", &spilled, &fj);
        assert_string_equal(one, held);
        assert_int_equal(f1, fj);
        free(held);
    }
    ahead_rounds = ahead_bytes = 0;
    int64_t fo1, fo2;
    char *own1 = gen_run(JOBS_RULES_OWN, N, 0, 1, "id", &spilled, &fo1);
    char *own2 = gen_run(JOBS_RULES_OWN, N, 0, 2, "id", &spilled, &fo2);
    assert_non_null(strstr(own1, "pvs.missing_in_left"));
    assert_string_equal(own1, own2);
    assert_int_equal(fo1, fo2);
    free(own1);
    free(own2);
    /* spilled: 1 MiB makes 64 partitions of about 300 records a side */
    char *s1 = gen_run(JOBS_RULES, N, 1 << 20, 1, "id", &spilled, &fs1);
    assert_true(spilled);
    char *sj = gen_run(JOBS_RULES, N, 1 << 20, 2, "id", &spilled, &fsj);
    assert_true(spilled);
    assert_string_equal(s1, sj);
    assert_int_equal(fs1, fsj);
    free(s1);
    free(sj);
    /* sorted, the spilled findings are those in memory */
    const char *order = "dataset, rule, row_no, record_key, message";
    s1 = gen_run(JOBS_RULES, N, 1 << 20, 2, order, &spilled, &fs1);
    sj = gen_run(JOBS_RULES, N, 0, 2, order, &spilled, &fsj);
    assert_string_equal(s1, sj);
    assert_int_equal(fs1, f1);
    free(s1);
    free(sj);
    free(one);
}

/* The store fails while the helpers make findings ahead of it (they wait
 * for a free set of workers, or run on): compare_finish stops them, waits
 * for them and fails with the store's error, whatever the hold. A helper
 * left waiting would hang the test: SIGALRM ends it after 120 s. */
static void test_store_fails_while_making(void **state)
{
    (void)state;
    alarm(120);
    static const size_t holds[][2] = {{1, 0}, {2, 1}, {0, 0}};
    for (size_t i = 0; i < sizeof holds / sizeof holds[0]; i++) {
        ahead_rounds = holds[i][0], ahead_bytes = holds[i][1];
        gen_feed(JOBS_RULES, 20000, 0, 2);
        ahead_rounds = ahead_bytes = 0;
        char *msg = NULL;
        assert_int_equal(sqlite3_exec(F.db,
                                      "CREATE TEMP TRIGGER full BEFORE INSERT ON main.finding_rows"
                                      " WHEN (SELECT count(*) FROM main.finding_rows) >= 300"
                                      " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
                                      NULL, NULL, &msg),
                         SQLITE_OK);
        struct qloop_error err;
        qloop_error_clear(&err);
        struct compare_emit_ctx ctx = {.db = F.db, .run_id = "r1", .findings = F.w};
        assert_int_equal(compare_finish(F.c, &ctx, F.summary, &F.failed, &err), -1);
        assert_true(err.message[0] != '\0');
        /* the findings stop at the failing INSERT, which stores up to 32
         * of them at once (run/findings.c) and is undone whole */
        int64_t stored = query_int("SELECT count(*) FROM main.finding_rows");
        assert_true(stored <= 300 && stored > 300 - 32);
        teardown(NULL);
    }
    alarm(0);
}

/* SQLITE_TRACE_STMT: counts the statements inserting rows into
 * finding_refs by VALUES (findings_refs.c: 64 rows or one). */
static int count_ref_inserts(unsigned type, void *ctx, void *p, void *x)
{
    (void)p;
    if (type == SQLITE_TRACE_STMT && strstr(x, "INTO finding_refs") && strstr(x, "VALUES"))
        ++*(int *)ctx;
    return 0;
}

/* With jobs the findings go into the store round after round while they
 * are made, by the helper and by the calling thread (which makes the first
 * slice before the helpers start, then whenever the round to spool is not
 * ready); their keys by record go into finding_refs once, at the end,
 * sorted: as many statements as one write of all of them takes (64 rows
 * each, the rest one by one), not a sorted write per round to random
 * leaves of the B-tree. In memory and spilled (a unit per partition). */
static void test_refs_written_once(void **state)
{
    (void)state;
    /* spilled: 64 units of about 1250 records a side, enough for the helpers */
    static const size_t budgets[] = {0, 1 << 20}, sizes[] = {20000, 80000};
    for (size_t b = 0; b < 2; b++) {
        gen_feed(JOBS_RULES, sizes[b], budgets[b], 2);
        assert_true(compare_spilled(F.c) == (b == 1));
        int values = 0;
        sqlite3_trace_v2(F.db, SQLITE_TRACE_STMT, count_ref_inserts, &values);
        struct qloop_error err;
        qloop_error_clear(&err);
        struct compare_emit_ctx ctx = {.db = F.db, .run_id = "r1", .findings = F.w};
        assert_int_equal(compare_finish(F.c, &ctx, F.summary, &F.failed, &err), 0);
        sqlite3_trace_v2(F.db, 0, NULL, NULL);
        int64_t n = query_int("SELECT count(*) FROM main.finding_rows");
        assert_true(n > 1000); /* moved in while made: many rounds */
        assert_int_equal(query_int("SELECT count(*) FROM main.finding_refs"), n);
        assert_int_equal(values, n / 64 + n % 64);
        /* the calling thread made findings too, not only the helper */
        assert_true(compare_caller_slices(F.c) >= 1);
        teardown(NULL);
    }
}

/* Spilled with jobs: the partition files' full blocks are written by a
 * thread of their own, and each first-level unit is read back on a thread
 * of its own while the one before it is joined, when both fit the budget at
 * once (1 MiB: units of ~100 KB); not with one job, nor (the reading ahead)
 * when two units do not fit together (128 KiB). The findings, in the order
 * stored, are the same either way. */
static void test_units_read_ahead(void **state)
{
    (void)state;
    enum { N = 20000 };
    static const size_t budgets[] = {1 << 20, 128 << 10};
    for (size_t b = 0; b < 2; b++) {
        bool spilled;
        int64_t f1, f2;
        char *one = gen_run(JOBS_RULES, N, budgets[b], 1, "id", &spilled, &f1);
        assert_true(spilled);
        assert_int_equal(last_units_ahead, 0);
        assert_int_equal(last_blocks_behind, 0);
        char *two = gen_run(JOBS_RULES, N, budgets[b], 2, "id", &spilled, &f2);
        assert_true(spilled);
        /* the partition files take less than 3/4 of the records' bytes in
         * memory (varint lengths, no padding) */
        assert_true(last_file > 0 && last_file * 4 < last_mem * 3);
        /* 1 MiB: every unit but the first read ahead */
        assert_int_equal(last_units_ahead, b == 0 ? 63 : 0);
        assert_true(last_blocks_behind > 0); /* ~2 MB of records in 16 KiB blocks */
        assert_string_equal(one, two);
        assert_int_equal(f1, f2);
        free(one);
        free(two);
    }
}

/* compare_spill_sizes of odd_run's last compare. */
static uint64_t odd_mem, odd_file;

/* Runs JOBS_RULES over n rows a side whose values are empty, short, of
 * 128+ bytes (a two-byte length in the partition files) and, every 97th,
 * of 20,000 bytes (larger than a file's block), with budget and jobs;
 * returns the findings (sorted) and counts as text. */
static char *odd_run(size_t n, size_t budget, size_t jobs, bool *spilled)
{
    setup(NULL);
    load(JOBS_RULES, budget);
    set_jobs(jobs);
    static const char *const ln[] = {"person_id", "name", "birth_date", "amount"};
    static const char *const rn[] = {"pid", "name", "birth", "amount"};
    char *big = malloc(20001), *mid = malloc(201);
    memset(big, 'x', 20000);
    big[20000] = '\0';
    memset(mid, 'y', 200);
    mid[200] = '\0';
    char(*ids)[24] = calloc(n, sizeof *ids);
    const char **rows = calloc(n * 4, sizeof *rows);
    for (int side = 0; side < 2; side++) {
        for (size_t i = 0; i < n; i++) {
            size_t id = side ? (i * 7) % n : i;
            snprintf(ids[i], 24, "P%06zu", id);
            rows[i * 4] = ids[i];
            rows[i * 4 + 1] = id % 97 == (size_t)side ? big : id % 5 == 0 ? mid : id % 3 ? "甲" : "";
            rows[i * 4 + 2] = id % 11 == (size_t)side ? "" : "1990-01-02";
            rows[i * 4 + 3] = id % 2 ? "7" : "";
        }
        feed(side ? "social" : "people", side ? rn : ln, 4, rows, n, 1);
    }
    finish();
    *spilled = compare_spilled(F.c);
    compare_spill_sizes(F.c, &odd_mem, &odd_file);
    char *f = findings("dataset, rule, row_no, record_key, message");
    char *out = malloc(strlen(f) + 64);
    sprintf(out, "%s%lld", f, (long long)F.failed);
    free(f);
    free(rows);
    free(ids);
    free(big);
    free(mid);
    teardown(NULL);
    return out;
}

/* The partition files' encoding: records with empty, long (two-byte
 * varint lengths) and larger-than-a-block values come back as they went
 * out, spilled at one level and split down to the last, with one job and
 * two: the findings are those in memory. */
static void test_spill_encoding(void **state)
{
    (void)state;
    bool spilled;
    char *mem = odd_run(3000, 0, 1, &spilled);
    assert_false(spilled);
    assert_non_null(strstr(mem, "pvs.mismatch.name"));
    static const size_t budgets[] = {256 << 10, 1};
    for (size_t b = 0; b < 2; b++)
        for (size_t jobs = 1; jobs <= 2; jobs++) {
            char *sp = odd_run(3000, budgets[b], jobs, &spilled);
            assert_true(spilled);
            assert_string_equal(mem, sp);
            assert_true(odd_file > 0 && odd_mem > odd_file);
            free(sp);
        }
    free(mem);
}

static void test_spill_equals_memory(void **state)
{
    (void)state;
    bool spilled;
    int64_t failed_mem, failed_spill, failed_tiny;
    char *mem = spill_run(0, &spilled, &failed_mem);
    assert_false(spilled);
    /* some findings of every kind */
    assert_non_null(strstr(mem, "pvs.missing_in_right"));
    assert_non_null(strstr(mem, "pvs.missing_in_left"));
    assert_non_null(strstr(mem, "pvs.mismatch.name"));
    assert_non_null(strstr(mem, "pvs.mismatch.birth_date"));
    assert_non_null(strstr(mem, "pvs.mismatch.amount"));
    assert_non_null(strstr(mem, "pvs.duplicate_key_left"));
    assert_non_null(strstr(mem, "pvs.empty_key_left"));
    /* 256 KiB: spills, partitions fit */
    char *spill = spill_run(256 * 1024, &spilled, &failed_spill);
    assert_true(spilled);
    assert_string_equal(mem, spill);
    assert_int_equal(failed_mem, failed_spill);
    /* 1 byte: spills at the first record and splits partitions down to the last level */
    char *tiny = spill_run(1, &spilled, &failed_tiny);
    assert_true(spilled);
    assert_string_equal(mem, tiny);
    assert_int_equal(failed_mem, failed_tiny);
    free(mem);
    free(spill);
    free(tiny);
}

/* The charge gen_feed's records make with hold (compare_set_hold; 0: the
 * default) and jobs; the compare is freed. */
static size_t charge_of(size_t n, size_t hold, size_t jobs)
{
    hold_bytes = hold;
    gen_feed(JOBS_RULES, n, 0, jobs);
    hold_bytes = 0;
    assert_false(compare_spilled(F.c));
    size_t charge = compare_charge(F.c);
    teardown(NULL);
    return charge;
}

/* Records past the hold go to a file of their side, charged as if held:
 * the charge is the same as with every record held (so the budget spills
 * the same runs, also at its very edge); within the budget they are read
 * back and joined in memory, past it spilled with the others: the
 * findings, in the order stored, are those of a run that held them all,
 * for one thread and several. */
static void test_held_past_hold(void **state)
{
    (void)state;
    enum { N = 20000 }; /* per side: ~2 MiB of chunks a side */
    size_t whole = charge_of(N, 0, 1);
    assert_true(whole > 4 << 20);
    assert_int_equal(charge_of(N, 1, 1), whole);
    assert_int_equal(charge_of(N, 256 << 10, 1), whole);
    assert_int_equal(charge_of(N, 256 << 10, 2), whole);
    assert_int_equal(charge_of(N, 0, 2), whole);
    /* in memory; spilled; at the budget's edge: a run charged exactly the
     * budget stays in memory, one byte less spills */
    const size_t budgets[] = {0, 3 << 20, whole, whole - 1};
    const bool spills[] = {false, true, false, true};
    for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++) {
        bool spilled;
        int64_t f0, fh;
        char *all = gen_run(JOBS_RULES, N, budgets[b], 1, "id", &spilled, &f0);
        assert_int_equal(spilled, spills[b]);
        assert_int_equal(last_over, 0);
        for (size_t jobs = 1; jobs <= 2; jobs++) {
            hold_bytes = 256 << 10;
            char *held = gen_run(JOBS_RULES, N, budgets[b], jobs, "id", &spilled, &fh);
            hold_bytes = 0;
            assert_int_equal(spilled, spills[b]);
            assert_true(last_over > N / 2);
            assert_string_equal(all, held);
            assert_int_equal(f0, fh);
            free(held);
        }
        free(all);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authority_right, setup, teardown),
        cmocka_unit_test_setup_teardown(test_masking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_composite_duplicates_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_normalize_tolerance_equal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tolerance_value_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_column, setup, teardown),
        cmocka_unit_test(test_spill_equals_memory),
        cmocka_unit_test(test_held_past_hold),
        cmocka_unit_test(test_jobs_same_findings),
        cmocka_unit_test(test_store_fails_while_making),
        cmocka_unit_test(test_refs_written_once),
        cmocka_unit_test(test_units_read_ahead),
        cmocka_unit_test(test_spill_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
