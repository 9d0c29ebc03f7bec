/*
 * store.c — opening the SQLite store, migrating its schema, transactions,
 * and the keyed record identity (record_ref).
 *
 * The schema steps (schema.c) are applied in one transaction, and the
 * store's PRAGMA user_version records how far it has come; a store written by
 * a newer qloop is refused rather than damaged.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/sha256.h"
#include "store/audit.h"
#include "store/key.h"
#include "store/pagemem.h"
#include "store/schema.h"
#include "store/sql.h"
#include "store/sql_profile.h"
#include "store/store.h"

static unsigned char secret_cache[32];
static sqlite3 *secret_db;

int store_error(sqlite3 *db, const char *what, struct qloop_error *err)
{
    const char *path = sqlite3_db_filename(db, "main");
    const char *hint = NULL;
    switch (sqlite3_errcode(db) & 0xff) {
    case SQLITE_READONLY:
    case SQLITE_PERM:
        hint = "数据库文件或其所在目录不可写；请检查权限，或用 --db 指定可写的位置";
        break;
    case SQLITE_FULL:
        hint = "磁盘已满；请腾出空间后重试（本次操作没有写入任何内容）";
        break;
    case SQLITE_NOTADB:
        hint = "这不是 qloop 数据库；请检查 --db 指向的文件";
        break;
    case SQLITE_CANTOPEN:
        hint = "无法打开数据库文件；请检查路径和权限（--db 或 QLOOP_DB）";
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        hint = "数据库正被另一个 qloop 进程写入；请稍后再试";
        break;
    default:
        break;
    }
    if (hint)
        return qloop_error_set(err, path, 0, 0, "%s失败：%s；%s", what, sqlite3_errmsg(db), hint);
    return qloop_error_internal(err, path, "%s失败：%s", what, sqlite3_errmsg(db));
}

const char *store_default_path(void)
{
    const char *env = getenv("QLOOP_DB");
    return env && *env ? env : "./qloop.db";
}

int store_exec(sqlite3 *db, const char *sql, struct qloop_error *err)
{
    return sql_exec(db, sql, "数据库操作", err);
}

/* The store's schema version (PRAGMA user_version) in *version. 0 or -1. */
static int user_version(sqlite3 *db, int *version, struct qloop_error *err)
{
    int64_t v = 0;
    int rc = sql_int64(db, "PRAGMA user_version", NULL, 0, &v, err);
    *version = (int)v;
    return rc;
}

/* Makes 32 random bytes for a new store's secret. */
static void random_bytes(unsigned char *out, size_t n)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    if (fd >= 0) {
        while (got < n) {
            ssize_t r = read(fd, out + got, n - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        close(fd);
    }
    if (got < n)
        sqlite3_randomness((int)(n - got), out + got);
}

/* Writes a new store's secret (32 random bytes as hex) into meta. */
static int make_secret(sqlite3 *db, struct qloop_error *err)
{
    unsigned char key[32];
    char hex[65];
    random_bytes(key, sizeof key);
    qloop_hex(key, sizeof key, hex);
    sqlite3_stmt *st = sql_prepare(db, "INSERT INTO meta(key, value) VALUES('secret', ?1)", err);
    if (!st)
        return -1;
    sql_bind_text(st, 1, hex);
    int rc = sql_done(db, st, "写入数据库密钥", err);
    sqlite3_finalize(st);
    return rc;
}

/* Refuses a store this binary must not touch: written by a newer qloop
 * (user_version past the last step), or a database of something else (no
 * version, but tables). Reading the version also tells a file that is not a
 * database at all. Nothing is written before this check. */
static int check_version(sqlite3 *db, int *version, struct qloop_error *err)
{
    if (user_version(db, version, err) != 0)
        return -1;
    const char *path = sqlite3_db_filename(db, "main");
    if (*version > store_nsteps)
        return qloop_error_set(err, path, 0, 0,
                               "数据库由更新版本的 qloop 写入（结构版本 %d，本程序只认识到 %d）："
                               "请改用更新的 qloop，或用 --db 指定别的数据库；本程序没有改动它",
                               *version, store_nsteps);
    int64_t tables = 0;
    if (*version == 0 && sql_int64(db,
                                   "SELECT count(*) FROM sqlite_master"
                                   " WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                                   NULL, 0, &tables, err) != 0)
        return -1;
    if (tables > 0)
        return qloop_error_set(err, path, 0, 0,
                               "这不是 qloop 数据库（其中已有别的表，但没有 qloop 的结构版本）；"
                               "请用 --db 指定 qloop 的数据库，或一个新文件");
    return 0;
}

/* Runs the code of step version, if it has any (schema.h). */
static int step_code(sqlite3 *db, int version, struct qloop_error *err)
{
    for (int i = 0; i < store_nstep_code; i++)
        if (store_step_code[i].version == version)
            return store_step_code[i].run(db, err);
    return 0;
}

/* Applies every schema step past the store's user_version up to step
 * target, each with its code (schema.h), all in one transaction: a store is
 * upgraded whole or not at all. */
static int migrate(sqlite3 *db, int target, struct qloop_error *err)
{
    int version;
    if (check_version(db, &version, err) != 0)
        return -1;
    if (version >= target)
        return 0;
    if (sql_exec(db, "BEGIN IMMEDIATE", "升级数据库结构", err) != 0)
        return -1;
    /* Another process may have upgraded the store while we waited. */
    if (check_version(db, &version, err) != 0) {
        store_rollback(db);
        return -1;
    }
    for (int v = version; v < target; v++) {
        char what[96];
        snprintf(what, sizeof what, "升级数据库结构（第 %d 步：%s）", store_steps[v].version,
                 store_steps[v].what);
        if (sql_exec(db, store_steps[v].sql, what, err) != 0 ||
            (v == 0 && make_secret(db, err) != 0) || step_code(db, v + 1, err) != 0) {
            store_rollback(db);
            return -1;
        }
    }
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", target);
    if (sql_exec(db, pragma, "升级数据库结构", err) != 0 ||
        sql_exec(db, "COMMIT", "提交数据库结构升级", err) != 0) {
        store_rollback(db);
        return -1;
    }
    return 0;
}

int store_check_path(const char *path, struct qloop_error *err)
{
    struct stat st;
    if (!path || stat(path, &st) != 0 || S_ISREG(st.st_mode))
        return 0;
    return qloop_error_set(err, path, 0, 0,
                           "这不是数据库文件（%s）；请用 --db（或 QLOOP_DB）指定 qloop 数据库文件的路径，"
                           "或一个新文件的路径",
                           S_ISDIR(st.st_mode)                          ? "是目录"
                           : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "是设备"
                           : S_ISFIFO(st.st_mode)                       ? "是管道"
                                                                        : "不是普通文件");
}

/* Whether path names a store kept in memory rather than a file. */
static bool in_memory(const char *path)
{
    return !*path || strcmp(path, ":memory:") == 0;
}

/* SQLite's process-wide settings, made once (pthread_once in
 * store_open_mode) before its first use. Memory statistics off: with them
 * on, every allocation SQLite makes (several per row a run stores) takes a
 * process-wide mutex to count itself, and qloop reads none of the counts
 * (sqlite3_memory_used, soft heap limits). Statement journals kept in
 * memory: a statement inside a run's transaction that may fail alone (an
 * INSERT ... SELECT of thousands of rows, the moves of staged results)
 * keeps the old content of each page it changes that existed when it
 * began, so that it can be undone without the transaction; past 64 KiB
 * (the default spill) SQLite writes that to a temporary file, written and
 * read back through the kernel, while the pages themselves sit in the page
 * cache anyway (W1 1M night 1: two such files before, none after;
 * bench/README.md). Page-cache lines in huge pages (pagemem.c): the run's
 * thread no longer faults in its 64 MiB cache 4 KiB at a time. When SQLite
 * was already in use (a caller opened a database itself first), the calls
 * are refused and SQLite keeps its defaults: nothing else changes. */
static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, -1);
    store_pagemem_install();
}

sqlite3 *store_open_mode(const char *path, enum store_open_mode mode, struct qloop_error *err)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, configure_sqlite);
    sqlite3 *db = NULL;
    if (!path)
        path = store_default_path();
    if (store_check_path(path, err) != 0)
        return NULL;
    bool create = mode == STORE_CREATE || in_memory(path);
    if (!create && access(path, F_OK) != 0) {
        qloop_error_set(err, path, 0, 0,
                        "数据库不存在：请检查 --db（或 QLOOP_DB）给出的路径是否写对；"
                        "新的数据库由 qloop run、catalog import、depts add 或 users add 创建，本命令只使用已有的数据库");
        return NULL;
    }
    /* Multi-thread mode (NOMUTEX): a store connection is used by one thread
     * at a time — a run's calling thread does every SQLite call of the run
     * (its workers and helpers only compute in memory), and the portal lends
     * each connection to one request thread at a time under its own mutex
     * (web/db.c). The connection's own mutex would be taken and released by
     * every API call (bind, step, column...): W1 1M night 1, ~2.8M pairs on
     * the thread that writes the results and tickets (bench/README.md). */
    int rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                                 (create ? SQLITE_OPEN_CREATE : 0),
                             NULL);
    if (rc != SQLITE_OK) {
        qloop_error_set(err, path, 0, 0, "无法打开数据库：%s；请检查路径和写权限（--db 或 QLOOP_DB）",
                        db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 30000);
    sqlite3_extended_result_codes(db, 1);
    sql_profile_attach(db); /* QLOOP_SQL_PROFILE=1 only */
    int version;
    /* A run is one large transaction: a 64 MiB page cache keeps it from
     * spilling pages to the WAL over and over. A new store gets 16 KiB pages
     * (set before WAL mode writes its header; a store that has pages keeps
     * its size, the pragma does nothing there): a run's store grows by
     * hundreds of MB, written twice (the WAL, then the checkpoint), one
     * frame, two system calls and a WAL index entry each page, and a B-tree
     * of larger pages is shallower and splits less often — against 4 KiB,
     * the write phase of W1 at 3M rows took about a fifth less CPU (findings,
     * tickets and commit alike; bench/README.md). The key is loaded before
     * the upgrade, whose code may need it (the audit chain): a new store gets
     * its first step (meta) first. */
    if (check_version(db, &version, err) != 0 ||
        sql_exec(db,
                 "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                 " PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;",
                 "打开数据库", err) != 0 ||
        migrate(db, 1, err) != 0 || store_key_attach(db, err) != 0 ||
        migrate(db, store_nsteps, err) != 0) {
        store_key_forget(db);
        audit_forget(db);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

sqlite3 *store_open(const char *path, struct qloop_error *err)
{
    return store_open_mode(path, STORE_CREATE, err);
}

/* Stops what store_begin_bulk started beside its transaction: the early
 * writeback (writeback.c) and the write-behind (writebehind.c). Returns -1
 * when a page write the write-behind queued failed (the transaction must not
 * commit), else 0. */
static int bulk_helpers_stop(sqlite3 *db)
{
    store_writeback_stop(db);
    return store_writebehind_stop(db);
}

void store_close(sqlite3 *db)
{
    if (!db)
        return;
    if (secret_db == db)
        secret_db = NULL;
    (void)bulk_helpers_stop(db); /* an open transaction is rolled back by the close */
    audit_forget(db);
    store_key_forget(db);
    sqlite3_close_v2(db);
}

int store_begin(sqlite3 *db, struct qloop_error *err)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return 0;
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        return qloop_error_set(err, sqlite3_db_filename(db, "main"), 0, 0,
                               "数据库正被另一个 qloop 进程写入（例如另一次运行）；请等其结束后再试");
    return store_error(db, "开始事务", err);
}

int store_commit(sqlite3 *db, struct qloop_error *err)
{
    if (bulk_helpers_stop(db) != 0) {
        qloop_error_set(err, sqlite3_db_filename(db, "main"), 0, 0,
                        "写入数据库文件失败（磁盘已满或无法写入？），本次改动未提交");
        store_rollback(db);
        return -1;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        store_error(db, "提交事务", err);
        store_rollback(db);
        return -1;
    }
    return 0;
}

void store_rollback(sqlite3 *db)
{
    (void)bulk_helpers_stop(db);
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* The main database's journal mode after PRAGMA sql (a mode set, or
 * queried), lower case, into mode; "" when the PRAGMA failed (busy: another
 * connection holds the store). */
static void journal_mode(sqlite3 *db, const char *sql, char mode[16])
{
    mode[0] = '\0';
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(mode, 16, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

int store_begin_bulk(sqlite3 *db, bool *rollback_journal, struct qloop_error *err)
{
    *rollback_journal = false;
    const char *file = sqlite3_db_filename(db, "main");
    if (sqlite3_get_autocommit(db) && file && !in_memory(file)) {
        /* Leaving WAL takes the store's exclusive lock without waiting: with
         * another connection open (the portal, a staff command) the PRAGMA
         * fails and the run keeps WAL. Whatever the outcome, the mode the
         * store is in now is what counts. */
        char mode[16];
        journal_mode(db, "PRAGMA main.journal_mode=DELETE", mode);
        if (strcmp(mode, "delete") != 0)
            journal_mode(db, "PRAGMA main.journal_mode", mode);
        *rollback_journal = strcmp(mode, "delete") == 0;
    }
    if (store_begin(db, err) == 0) {
        if (*rollback_journal) {
            store_writeback_start(db);
            store_writebehind_start(db);
        }
        return 0;
    }
    if (*rollback_journal)
        store_wal(db);
    *rollback_journal = false;
    return -1;
}

bool store_wal(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        return false;
    char mode[16];
    journal_mode(db, "PRAGMA main.journal_mode=WAL", mode);
    return strcmp(mode, "wal") == 0;
}

const unsigned char *store_secret(sqlite3 *db)
{
    if (secret_db == db)
        return secret_cache;
    memset(secret_cache, 0, sizeof secret_cache);
    sqlite3_stmt *st = sql_prepare(db, "SELECT value FROM meta WHERE key = 'secret'", NULL);
    if (st) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            const char *hex = sql_text(st, 0);
            for (size_t i = 0; hex && i < 32 && hex[2 * i] && hex[2 * i + 1]; i++) {
                unsigned v;
                if (sscanf(hex + 2 * i, "%2x", &v) == 1)
                    secret_cache[i] = (unsigned char)v;
            }
        }
        sqlite3_finalize(st);
    }
    secret_db = db;
    return secret_cache;
}

/* The keyed digest of (dataset, key) into digest. */
static void record_digest(const unsigned char secret[32], const char *dataset, const char *key,
                          size_t keylen, uint8_t digest[32])
{
    struct qloop_sha256 c;
    qloop_sha256_init(&c);
    qloop_sha256_update(&c, secret, 32);
    qloop_sha256_update(&c, dataset, strlen(dataset) + 1);
    qloop_sha256_update(&c, key, keylen);
    qloop_sha256_final(&c, digest);
}

void store_record_ref_keyed(const unsigned char secret[32], const char *dataset, const char *key,
                            size_t keylen, char out[33])
{
    uint8_t digest[32];
    record_digest(secret, dataset, key, keylen, digest);
    qloop_hex(digest, 16, out);
}

void store_record_ref_words(const unsigned char secret[32], const char *dataset, const char *key,
                            size_t keylen, uint64_t out[2])
{
    uint8_t digest[32];
    record_digest(secret, dataset, key, keylen, digest);
    for (int w = 0; w < 2; w++) {
        out[w] = 0;
        for (int i = 0; i < 8; i++)
            out[w] = out[w] << 8 | digest[8 * w + i];
    }
}

void store_record_ref(sqlite3 *db, const char *dataset, const char *key, size_t keylen,
                      char out[33])
{
    store_record_ref_keyed(store_secret(db), dataset, key, keylen, out);
}

int store_prune_findings(sqlite3 *db, long keep_runs, long long *deleted, struct qloop_error *err)
{
    *deleted = 0;
    if (keep_runs < 1)
        return qloop_error_set(err, NULL, 0, 0, "至少要保留最近 1 次运行的问题记录");
    if (store_begin(db, err) != 0)
        return -1;
    int64_t keep = keep_runs;
    /* the old runs' rows, found by their keys (finding_refs, schema step
     * 14: by run), then the keys; "old" said once for both */
#define OLD_FINDING_RUNS                                                                           \
    "(SELECT id FROM finding_runs WHERE run_id NOT IN"                                             \
    " (SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT ?1))"
    /* an item naming an old run's finding (schema step 17) takes the
     * evidence the `ticket_items` view shows for it into its own columns
     * first, and names none (nor keeps a digest of the named evidence):
     * what the item shows is unchanged, by the view's own definition */
    if (sql_exec_ids(db,
                     "UPDATE ticket_item_rows SET (record_key, value, message, row_no, sealed,"
                     " finding, digest) = (SELECT v.record_key, v.value, v.message, v.row_no,"
                     " v.sealed, NULL, NULL FROM ticket_items v WHERE v.id = ticket_item_rows.id)"
                     " WHERE finding IN (SELECT id FROM finding_refs WHERE run IN "
                     OLD_FINDING_RUNS ")",
                     "清理问题记录", err, 1, &keep) != 0) {
        store_rollback(db);
        return -1;
    }
    if (sql_exec_ids(db,
                     "DELETE FROM finding_rows WHERE id IN (SELECT id FROM finding_refs"
                     " WHERE run IN " OLD_FINDING_RUNS ")",
                     "清理问题记录", err, 1, &keep) != 0) {
        store_rollback(db);
        return -1;
    }
    *deleted = sqlite3_changes(db);
    if (sql_exec_ids(db, "DELETE FROM finding_refs WHERE run IN " OLD_FINDING_RUNS,
                     "清理问题记录", err, 1, &keep) != 0) {
        store_rollback(db);
        return -1;
    }
#undef OLD_FINDING_RUNS
    char detail[128];
    snprintf(detail, sizeof detail, "{\"keep_runs\":%ld,\"findings_deleted\":%lld}", keep_runs,
             *deleted);
    if (audit_append(db, "store.prune", "store:findings", "system", detail, err) != 0) {
        store_rollback(db);
        return -1;
    }
    return store_commit(db, err);
}
