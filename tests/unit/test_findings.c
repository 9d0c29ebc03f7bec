/*
 * test_findings.c — the run's one findings writer (engine/run/findings.c).
 *
 * A small pack declares a dataset with a sensitive key and a sensitive
 * field and one without; findings are written through findings_write (as
 * the run's rules and compares do) and through the sink of
 * store/findings.h (as the catalog does), the staging tables are moved into
 * the store, and the stored rows are read back: record_ref from the raw key,
 * key and value masked by the dataset's declarations (and by the finder's
 * flags), dataset-level findings as written, the message composed from the
 * rule's message and the reason, free text masked by shape and by the
 * record's sensitive values, nothing in findings before the move, and a
 * store failure reported as internal.
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
#include "checks/mask.h"
#include "rules/pack.h"
#include "run/findings.h"
#include "run/stage.h"
#include "store/store.h"
#include "store_helpers.h"

static const char RULES[] =
    "dataset \"people\" { key = \"person_id\", sensitive = { \"person_id\", \"phone\" } }\n"
    "dataset \"shops\" { key = \"code\" }\n"
    "rule \"people.phone\" { field = \"phone\", pattern = \"^1\", message = \"手机号码格式错误\" }\n"
    "rule \"people.sex\" { field = \"sex\", one_of = { \"男\", \"女\" } }\n"
    "rule \"shops.name\" { field = \"name\", not_null = true, message = \"店名为空\" }\n";

struct fixture {
    char rules[300];
    struct pack *p;
    sqlite3 *db;
    struct findings_writer *w;
};
static struct fixture F;

/* The pack above (from a temporary rule file), an in-memory store with the
 * staging tables, and a writer for run "r1". */
static int setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    const char *tmp = getenv("TMPDIR");
    snprintf(F.rules, sizeof F.rules, "%s/qloop-test-findings-%d.lua", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
    FILE *f = fopen(F.rules, "w");
    if (!f)
        return -1;
    fputs(RULES, f);
    fclose(f);
    struct qloop_error err;
    qloop_error_clear(&err);
    F.p = pack_new();
    int rc = pack_load_path(F.p, F.rules, &err);
    if (rc == 0)
        rc = pack_finish(F.p, &err);
    unlink(F.rules);
    F.db = db_open();
    if (rc != 0 || stage_create(F.db, &err) != 0)
        return -1;
    F.w = findings_writer_new(F.db, "r1", F.p, &err);
    return F.w ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    findings_writer_free(F.w);
    pack_free(F.p);
    store_close(F.db);
    return 0;
}

static void write_ok(const struct qloop_finding *f, const struct finding_extra *x)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    if (findings_write(F.w, f, x, &err) != 0)
        fail_msg("findings_write: %s", err.message);
}

static void move(void)
{
    struct qloop_error err;
    qloop_error_clear(&err);
    if (findings_flush(F.w, &err) != 0 || stage_move(F.db, &err) != 0)
        fail_msg("stage_move: %s", err.message);
}

/* Finding number n (1-based, in the order written) as
 * "dataset|rule|row_no|record_key|field|value|message", NULL shown as "-";
 * its record_ref into ref. */
static char *row(int n, char ref[33])
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(F.db,
                                        "SELECT dataset, rule, row_no, record_key, field, value,"
                                        " message, record_ref FROM findings ORDER BY id"
                                        " LIMIT 1 OFFSET ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int(st, 1, n - 1);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    struct qloop_buf b = {0};
    for (int i = 0; i < 7; i++) {
        const char *v = (const char *)sqlite3_column_text(st, i);
        qloop_buf_printf(&b, "%s%s", i ? "|" : "", v ? v : "-");
    }
    snprintf(ref, 33, "%s", (const char *)sqlite3_column_text(st, 7));
    sqlite3_finalize(st);
    return b.ptr;
}

static char *masked(const char *s)
{
    struct qloop_buf b = {0};
    mask_sensitive(s, strlen(s), &b);
    return b.ptr ? b.ptr : qloop_xstrdup("");
}

static void assert_row(int n, const char *want, const char *dataset, const char *raw_key)
{
    char ref[33], want_ref[33];
    char *got = row(n, ref);
    if (strcmp(got, want) != 0)
        fail_msg("finding %d:\n  got  %s\n  want %s", n, got, want);
    free(got);
    store_record_ref(F.db, dataset, raw_key, strlen(raw_key), want_ref);
    assert_string_equal(ref, want_ref);
}

static void test_masking_and_messages(void **state)
{
    (void)state;
    const char *id = "330102199001011234", *phone = "13812345678";
    /* a rule failure: key and value masked (person_id, phone sensitive), the
     * rule's message framing the reason */
    struct qloop_finding f = {.dataset = "people", .rule = "people.phone", .row_no = 3,
                              .key = id, .keylen = strlen(id), .field = "phone",
                              .value = phone, .vlen = strlen(phone)};
    struct finding_extra x = {.rule_message = "手机号码格式错误", .reason = "格式不符"};
    write_ok(&f, &x);
    /* the reason repeats the message: said once */
    x.reason = "手机号码格式错误";
    f.row_no = 4;
    write_ok(&f, &x);
    /* a rule without a message of its own: field and reason */
    struct qloop_finding g = {.dataset = "people", .rule = "people.sex", .row_no = 5, .key = id,
                              .keylen = strlen(id), .field = "sex", .value = "M", .vlen = 1};
    struct finding_extra y = {.rule_message = "sex 不符合规则 people.sex", .message_default = true,
                              .reason = "不在允许的取值范围内"};
    write_ok(&g, &y);
    /* no message and no extra: the pack's rule message; the field is not
     * sensitive, so the value is stored as it is */
    g.row_no = 6;
    write_ok(&g, NULL);
    /* a dataset without sensitive declarations: nothing masked ... */
    struct qloop_finding h = {.dataset = "shops", .rule = "shops.name", .row_no = 7,
                              .key = "S-001", .keylen = 5, .field = "name", .value = "", .vlen = 0};
    write_ok(&h, &(struct finding_extra){.rule_message = "店名为空"});
    /* ... unless the finder says key and value come from sensitive fields
     * (a compare joining it with a dataset that declares them) */
    h.row_no = 0;
    h.value = phone;
    h.vlen = strlen(phone);
    h.message = "比对：本方缺少记录";
    write_ok(&h, &(struct finding_extra){.mask = FINDING_MASK_KEY | FINDING_MASK_VALUE});

    assert_int_equal(q_int(F.db, "SELECT count(*) FROM main.findings"), 0); /* staged only */
    move();
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM main.findings"), 6);

    char *mid = masked(id), *mphone = masked(phone), *ms = masked("S-001");
    struct qloop_buf w = {0};
    qloop_buf_printf(&w, "people|people.phone|3|%s|phone|%s|手机号码格式错误：格式不符", mid, mphone);
    assert_row(1, w.ptr, "people", id);
    qloop_buf_reset(&w);
    qloop_buf_printf(&w, "people|people.phone|4|%s|phone|%s|手机号码格式错误", mid, mphone);
    assert_row(2, w.ptr, "people", id);
    qloop_buf_reset(&w);
    qloop_buf_printf(&w, "people|people.sex|5|%s|sex|M|sex：不在允许的取值范围内", mid);
    assert_row(3, w.ptr, "people", id);
    qloop_buf_reset(&w);
    qloop_buf_printf(&w, "people|people.sex|6|%s|sex|M|sex 不符合规则 people.sex", mid);
    assert_row(4, w.ptr, "people", id);
    assert_row(5, "shops|shops.name|7|S-001|name||店名为空", "shops", "S-001");
    qloop_buf_reset(&w);
    qloop_buf_printf(&w, "shops|shops.name|-|%s|name|%s|比对：本方缺少记录", ms, mphone);
    assert_row(6, w.ptr, "shops", "S-001");
    assert_string_not_equal(mid, id);
    assert_string_not_equal(mphone, phone);
    qloop_buf_free(&w);
    free(mid), free(mphone), free(ms);
}

/* Free text in a finding: the reason a rule built from the record
 * (`return false, "号码 " .. r.phone`), the message a finder wrote. Masked by
 * shape always, and wherever it quotes the record's sensitive values — the
 * key and the value judged when they are sensitive, and the values the
 * finder hands over (a name, an address, which have no shape). */
static void test_free_text(void **state)
{
    (void)state;
    const char *id = "330102199001011234", *phone = "13812345678";
    const char *name = "王小明", *addr = "杭州市西湖区文三路100号";
    struct mask_value values[] = {{name, strlen(name)}, {addr, strlen(addr)}, {phone, 11}};
    struct qloop_finding f = {.dataset = "people", .rule = "people.phone", .row_no = 3,
                              .key = id, .keylen = strlen(id), .field = "phone",
                              .value = phone, .vlen = strlen(phone)};
    struct qloop_buf reason = {0};
    qloop_buf_printf(&reason, "号码 %s 属于 %s，住 %s，身份证 %s", phone, name, addr, id);
    write_ok(&f, &(struct finding_extra){.rule_message = "手机号码格式错误", .reason = reason.ptr,
                                         .values = values, .nvalues = 3});
    /* A dataset that declares nothing: shapes are still masked. */
    struct qloop_finding g = {.dataset = "shops", .rule = "shops.name", .row_no = 4,
                              .key = "S-001", .keylen = 5, .field = "name", .value = "x", .vlen = 1,
                              .message = "联系人电话 13912345678，卡号 6222021234567890128"};
    write_ok(&g, NULL);
    /* A key that is not shaped like anything, but sensitive, quoted. */
    struct qloop_finding h = {.dataset = "people", .rule = "people.sex", .row_no = 5,
                              .key = "ZH-77-K", .keylen = 7, .field = "sex", .value = "M", .vlen = 1};
    write_ok(&h, &(struct finding_extra){.rule_message = "性别错误", .reason = "记录 ZH-77-K 的性别"});
    move();
    char ref[33];
    char *r1 = row(1, ref), *r2 = row(2, ref), *r3 = row(3, ref);
    assert_non_null(strstr(r1, "手机号码格式错误：号码 138****5678 属于 王**，住 杭州市西湖区****，"
                               "身份证 330102***********4"));
    assert_non_null(strstr(r2, "|联系人电话 139****5678，卡号 622202*********0128"));
    assert_non_null(strstr(r3, "|性别错误：记录 Z*****K 的性别"));
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings WHERE message LIKE '%%王小明%%'"
                                 " OR message LIKE '%%13812345678%%' OR message LIKE '%%文三路100号%%'"
                                 " OR message LIKE '%%199001011234%%' OR message LIKE '%%ZH-77-K%%'"),
                     0);
    free(r1), free(r2), free(r3);
    qloop_buf_free(&reason);
}

/* What the catalog writes: dataset-level findings through the sink. They
 * name no record, so their key and value are stored as written even on a
 * dataset whose key and fields are sensitive. */
static void test_sink_dataset_level(void **state)
{
    (void)state;
    struct qloop_findings_sink sink = findings_sink(F.w);
    struct qloop_finding f = {.dataset = "people", .rule = "people.catalog_schema_drift",
                              .key = "catalog:schema_drift:phone",
                              .keylen = strlen("catalog:schema_drift:phone"), .field = "phone",
                              .value = "extra", .vlen = 5, .message = "数据中多出字段 phone"};
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(sink.write(sink.ctx, &f, &err), 0);
    /* freshness: the empty key */
    struct qloop_finding g = {.dataset = "people", .rule = "people.freshness", .key = ""};
    assert_int_equal(findings_write(F.w, &g,
                                    &(struct finding_extra){.rule_message = "数据未按更新周期（daily）更新",
                                                            .reason = "最新更新时间 无"},
                                    &err),
                     0);
    move();
    assert_row(1,
               "people|people.catalog_schema_drift|-|catalog:schema_drift:phone|phone|extra|"
               "数据中多出字段 phone",
               "people", "catalog:schema_drift:phone");
    assert_row(2, "people|people.freshness|-||-|-|数据未按更新周期（daily）更新：最新更新时间 无",
               "people", "");
}

/* A store failure while writing is reported, and as internal (exit 3). */
static void test_store_failure(void **state)
{
    (void)state;
    struct qloop_error err;
    qloop_error_clear(&err);
    exec(F.db, "CREATE TEMP TRIGGER boom BEFORE INSERT ON main.finding_rows"
               " BEGIN SELECT RAISE(ABORT, 'boom'); END");
    struct qloop_finding f = {.dataset = "shops", .rule = "shops.name", .row_no = 1, .key = "S",
                              .keylen = 1};
    /* spooled first, stored when the run moves its findings in */
    assert_int_equal(findings_write(F.w, &f, NULL, &err), 0);
    assert_int_equal(findings_flush(F.w, &err), -1);
    assert_non_null(strstr(err.message, "boom"));
    assert_int_equal(qloop_error_exit(&err), QLOOP_EXIT_INTERNAL);
    /* the writer is usable again once the cause is gone */
    exec(F.db, "DROP TRIGGER temp.boom");
    qloop_error_clear(&err);
    assert_int_equal(findings_write(F.w, &f, NULL, &err), 0);
    assert_int_equal(findings_flush(F.w, &err), 0);
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings WHERE rule = 'shops.name'"), 1);
}

/* The spool (run/stage.h): findings wait outside the store until the move,
 * past a few MiB in a temporary file; read back, every one is stored whole,
 * in the order written (ids in that order), with NULLs kept, each kind
 * (dataset, rule, field) numbered once, and in a partitioned run with its
 * row within its part and the part. A second batch follows the first. */
static void test_spool_order(void **state)
{
    (void)state;
    enum { N = 30000 }; /* about 9 MiB of messages: most of it in the file */
    uint64_t offsets[] = {0, 20000};
    findings_writer_parts(F.w, "shops", 2, offsets);
    char key[32], msg[400];
    memset(msg, '.', sizeof msg);
    for (int i = 1; i <= N; i++) {
        int kl = snprintf(key, sizeof key, "S%d", i);
        int ml = snprintf(msg, sizeof msg, "第 %d 条", i);
        msg[ml] = '.'; /* a long message: the number, then dots */
        msg[300] = '\0';
        struct qloop_finding f = {.dataset = "shops", .rule = "shops.name", .row_no = (uint64_t)i,
                                  .key = key, .keylen = (size_t)kl,
                                  .field = i % 3 ? "name" : NULL,
                                  .value = i % 2 ? "v" : NULL, .vlen = 1, .message = msg};
        write_ok(&f, NULL);
    }
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings"), 0); /* spooled only */
    move();
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings"), N);
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM finding_kinds"), 2);
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM finding_runs"), 1);
    /* in order: the n-th finding written is the n-th stored, whole */
    int64_t first = q_int(F.db, "SELECT min(id) FROM findings");
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings WHERE record_key = 'S' || (id - %lld + 1)"
                                 " AND message LIKE '第 ' || (id - %lld + 1) || ' 条.%%'"
                                 " AND length(CAST(message AS BLOB)) = 300",
                           (long long)first, (long long)first),
                     N);
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings WHERE value IS NULL"), N / 2);
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings WHERE field IS NULL"), N / 3);
    /* rows of part 2 are numbered within it */
    assert_string_equal(q_text(F.db, "SELECT part || ':' || row_no FROM findings WHERE record_key = 'S20001'"),
                        "2/2:1");
    assert_string_equal(q_text(F.db, "SELECT part || ':' || row_no FROM findings WHERE record_key = 'S20000'"),
                        "1/2:20000");
    /* a second batch after the first */
    struct qloop_finding g = {.dataset = "shops", .rule = "shops.name", .row_no = 1, .key = "T",
                              .keylen = 1, .field = "name"};
    write_ok(&g, NULL);
    move();
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings"), N + 1);
    assert_string_equal(q_text(F.db, "SELECT record_key FROM findings ORDER BY id DESC LIMIT 1"), "T");
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM finding_kinds"), 2);
}

/* A partitioned run: the judge shows each finding (findings_show, with no
 * store, no secret, no key file) and the shard carries what it made; the
 * merge adds the record_ref and the seal (findings_write_shown). Stored, each
 * finding equals the one findings_write makes from the same finding: key and
 * value masked alike, the same message (composed and masked once, by shape
 * and by the record's values), the same record_ref, sealed alike. */
/* SQLITE_TRACE_STMT: counts the statements run that insert into finding_rows. */
static int count_inserts(unsigned type, void *ctx, void *stmt, void *sql)
{
    (void)type;
    (void)stmt;
    const char *text = sql;
    if (strncmp(text, "INSERT", 6) == 0 && strstr(text, "INTO finding_rows"))
        ++*(int *)ctx;
    return 0;
}

/* The move stores findings 32 to an INSERT (a statement's start and end
 * shared by 32 rows), the rest one by one, each whole and in the order
 * written whatever its kind, NULLs and sealed copy; a failing INSERT fails
 * the move, and the writer goes on once the cause is gone. */
static void test_batched_inserts(void **state)
{
    (void)state;
    enum { N = 2 * 32 + 5 };
    int inserts = 0;
    sqlite3_trace_v2(F.db, SQLITE_TRACE_STMT, count_inserts, &inserts);
    char key[32], phone[32];
    for (int i = 1; i <= N; i++) {
        int kl = snprintf(key, sizeof key, i % 2 ? "11010119900101%04d" : "S%d", i);
        snprintf(phone, sizeof phone, "1380013%04d", i);
        struct qloop_finding f = {.dataset = i % 2 ? "people" : "shops",
                                  .rule = i % 2 ? "people.phone" : "shops.name",
                                  .row_no = (uint64_t)i, .key = key, .keylen = (size_t)kl,
                                  .field = i % 2 ? "phone" : "name",
                                  .value = i % 3 ? phone : NULL, .vlen = strlen(phone)};
        write_ok(&f, NULL);
    }
    move();
    assert_int_equal(inserts, 2 + 5);
    sqlite3_trace_v2(F.db, 0, NULL, NULL);
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings"), N);
    /* the n-th written is the n-th stored */
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM (SELECT row_no, row_number() OVER"
                                 " (ORDER BY id) AS n FROM findings) WHERE row_no = n"),
                     N);
    char ref[33];
    char *got = row(35, ref);
    char *mkey = masked("110101199001010035"), *mphone = masked("13800130035");
    char want[256];
    snprintf(want, sizeof want, "people|people.phone|35|%s|phone|%s|手机号码格式错误", mkey, mphone);
    assert_string_equal(got, want);
    free(got);
    free(mkey);
    free(mphone);
    store_record_ref(F.db, "people", "110101199001010035", 18, want);
    assert_string_equal(ref, want);
    assert_row(66, "shops|shops.name|66|S66|name|-|店名为空", "shops", "S66");
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings WHERE sealed IS NOT NULL"), (N + 1) / 2);
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings WHERE value IS NULL"), N / 3);

    /* a failure in the second INSERT of 32: the move fails, nothing after it is stored */
    exec(F.db, "CREATE TEMP TRIGGER boom BEFORE INSERT ON main.finding_rows"
               " WHEN NEW.row_no = 40 BEGIN SELECT RAISE(ABORT, 'boom'); END");
    for (int i = 1; i <= N; i++) {
        int kl = snprintf(key, sizeof key, "T%d", i);
        struct qloop_finding f = {.dataset = "shops", .rule = "shops.name", .row_no = (uint64_t)i,
                                  .key = key, .keylen = (size_t)kl};
        write_ok(&f, NULL);
    }
    struct qloop_error err;
    qloop_error_clear(&err);
    assert_int_equal(findings_flush(F.w, &err), -1);
    assert_non_null(strstr(err.message, "boom"));
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings WHERE record_key LIKE 'T%%'"), 32);
    exec(F.db, "DROP TRIGGER temp.boom");
    struct qloop_finding g = {.dataset = "shops", .rule = "shops.name", .row_no = 1, .key = "U",
                              .keylen = 1};
    write_ok(&g, NULL);
    move();
    assert_string_equal(q_text(F.db, "SELECT record_key FROM findings ORDER BY id DESC LIMIT 1"), "U");
}

static void test_shown_in_a_judge(void **state)
{
    (void)state;
    const char *id = "330102199001011234", *phone = "13812345678", *name = "王小明";
    struct mask_value values[] = {{name, strlen(name)}, {phone, 11}};
    static const char keyless[] = "\0K0123456789abcdef0123456789abcdef#2\0#7";
    char reason[200];
    snprintf(reason, sizeof reason, "号码 %s 属于 %s，身份证 %s", phone, name, id);
    const struct {
        struct qloop_finding f;
        struct finding_extra x;
    } cases[] = {
        {{.dataset = "people", .rule = "people.phone", .row_no = 3, .key = id, .keylen = strlen(id),
          .field = "phone", .value = phone, .vlen = strlen(phone)},
         {.rule_message = "手机号码格式错误", .reason = reason, .values = values, .nvalues = 2}},
        {{.dataset = "people", .rule = "people.sex", .row_no = 4, .key = id, .keylen = strlen(id),
          .field = "sex", .value = "M", .vlen = 1},
         {.rule_message = "sex 不符合规则 people.sex", .message_default = true,
          .reason = "不在允许的取值范围内"}},
        {{.dataset = "people", .rule = "people.phone", .row_no = 7, .key = keyless,
          .keylen = sizeof keyless - 1, .field = "phone", .value = NULL},
         {.rule_message = "手机号码格式错误"}},
        {{.dataset = "shops", .rule = "shops.name", .row_no = 8, .key = "S-001", .keylen = 5,
          .field = "name", .value = "", .vlen = 0},
         {.rule_message = "店名为空", .reason = "店名为空"}},
        {{.dataset = "shops", .rule = "shops.name", .row_no = 9, .key = "S-002", .keylen = 5,
          .field = "name", .value = phone, .vlen = 11},
         {.rule_message = "店名为空", .reason = "联系电话 13912345678", .mask = FINDING_MASK_VALUE}},
    };
    enum { N = sizeof cases / sizeof cases[0] };
    struct findings_encoder *judge = findings_encoder_show(F.p);
    struct qloop_error err;
    qloop_error_clear(&err);
    for (size_t i = 0; i < N; i++) {
        write_ok(&cases[i].f, &cases[i].x);
        struct finding_shown s;
        findings_show(judge, &cases[i].f, &cases[i].x, &s);
        /* what crosses the shard: copies, not the judge's buffers */
        struct finding_shown t = s;
        t.key = s.key_masked ? qloop_xstrndup(s.key, s.keylen) : NULL;
        t.value = s.value_masked ? qloop_xstrndup(s.value, s.vlen) : NULL;
        t.message = s.message ? qloop_xstrndup(s.message, s.mlen) : NULL;
        findings_show(judge, &cases[0].f, &cases[0].x, &s); /* the judge goes on */
        if (findings_write_shown(F.w, &cases[i].f, &t, &err) != 0)
            fail_msg("findings_write_shown: %s", err.message);
        free((char *)t.key), free((char *)t.value), free((char *)t.message);
    }
    findings_encoder_free(judge);
    move();
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings"), 2 * N);
    for (int i = 1; i <= N; i++) {
        char ref1[33], ref2[33];
        char *a = row(2 * i - 1, ref1), *b = row(2 * i, ref2);
        if (strcmp(a, b) != 0)
            fail_msg("finding %d shown in a judge:\n  got  %s\n  want %s", i, b, a);
        assert_string_equal(ref1, ref2);
        free(a), free(b);
    }
    /* sealed alike: the same findings, the same lengths */
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings a JOIN findings b ON b.id = a.id + 1"
                                 " WHERE (a.id - (SELECT min(id) FROM findings)) %% 2 = 0"
                                 " AND (a.sealed IS NULL) = (b.sealed IS NULL)"
                                 " AND ifnull(length(a.sealed), 0) = ifnull(length(b.sealed), 0)"),
                     N);
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings WHERE sealed IS NOT NULL"), 2 * 3);
    /* the keyless record is shown by its row; nothing raw in the messages */
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings WHERE record_key = '#7'"), 2);
    assert_int_equal(q_int(F.db, "SELECT count(*) FROM findings WHERE message LIKE '%%王小明%%'"
                                 " OR message LIKE '%%13812345678%%' OR message LIKE '%%13912345678%%'"
                                 " OR message LIKE '%%199001011234%%'"),
                     0);
}

/* A finding given its sealed copy (the verdict memo's, run/memo.h) is encoded
 * with those bytes instead of sealing again; given the bytes sealing makes,
 * it is the same finding byte for byte; findings_encoded_sealed finds them. */
static void test_sealed_given(void **state)
{
    (void)state;
    const char *id = "330102199001011234", *phone = "13812345678";
    struct qloop_finding f = {.dataset = "people", .rule = "people.phone", .row_no = 3, .key = id,
                              .keylen = strlen(id), .field = "phone", .value = phone, .vlen = 11};
    struct finding_extra x = {.rule_message = "手机号码格式错误"};
    struct findings_encoder *e = findings_encoder_new(F.w);
    uint32_t kind = findings_kind(F.w, f.dataset, f.rule, f.field);
    struct qloop_buf made = {0}, again = {0}, given = {0};
    struct finding_shown s;
    findings_show(e, &f, &x, &s);
    assert_true(s.key_masked || s.value_masked);
    findings_encode_shown(e, kind, &f, &s, &made);
    const void *sealed;
    size_t len;
    assert_true(findings_encoded_sealed(made.ptr, made.len, &sealed, &len));
    assert_true(len > 40);
    char *copy = qloop_xmalloc(len); /* the bytes as they are: a seal may hold a NUL */
    memcpy(copy, sealed, len);

    findings_show(e, &f, &x, &s);
    s.sealed = copy;
    s.sealed_len = len;
    findings_encode_shown(e, kind, &f, &s, &again);
    assert_int_equal(again.len, made.len);
    assert_memory_equal(again.ptr, made.ptr, made.len);

    static const char fake[] = "not sealed here";
    s.sealed = fake;
    s.sealed_len = sizeof fake - 1;
    findings_encode_shown(e, kind, &f, &s, &given);
    assert_true(findings_encoded_sealed(given.ptr, given.len, &sealed, &len));
    assert_int_equal(len, sizeof fake - 1);
    assert_memory_equal(sealed, fake, len);
    assert_false(findings_encoded_sealed(given.ptr, given.len - 1, &sealed, &len)); /* not whole */

    /* nothing masked: no seal, whatever was given */
    struct qloop_finding plain = {.dataset = "shops", .rule = "shops.name", .row_no = 8,
                                  .key = "S-001", .keylen = 5, .field = "name", .value = "x",
                                  .vlen = 1};
    struct finding_extra px = {.rule_message = "店名为空"};
    findings_show(e, &plain, &px, &s);
    assert_false(s.key_masked || s.value_masked);
    s.sealed = fake;
    s.sealed_len = sizeof fake - 1;
    qloop_buf_reset(&given);
    findings_encode_shown(e, findings_kind(F.w, plain.dataset, plain.rule, plain.field), &plain, &s,
                          &given);
    assert_false(findings_encoded_sealed(given.ptr, given.len, &sealed, &len));
    free(copy);
    qloop_buf_free(&made), qloop_buf_free(&again), qloop_buf_free(&given);
    findings_encoder_free(e);
}

static void test_quote_and_row_key(void **state)
{
    (void)state;
    struct qloop_buf b = {0};
    findings_quote(&b, "", 0, true);
    assert_string_equal(qloop_buf_str(&b), "（空）");
    qloop_buf_reset(&b);
    findings_quote(&b, "张三", strlen("张三"), false);
    assert_string_equal(qloop_buf_str(&b), "张三");
    qloop_buf_reset(&b);
    findings_quote(&b, "张三", strlen("张三"), true);
    char *m = masked("张三");
    assert_string_equal(qloop_buf_str(&b), m);
    free(m);
    static const struct { uint64_t n; const char *s; } rows[] = {
        {0, "#0"}, {7, "#7"}, {10, "#10"}, {1234567, "#1234567"},
        {UINT64_MAX, "#18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        qloop_buf_reset(&b);
        findings_row_key(&b, rows[i].n);
        assert_string_equal(qloop_buf_str(&b), rows[i].s);
    }
    qloop_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_masking_and_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_dataset_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batched_inserts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shown_in_a_judge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sealed_given, setup, teardown),
        cmocka_unit_test(test_quote_and_row_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
