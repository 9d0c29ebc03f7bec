/*
 * key.c — the store's key file (key.h): finding, making and checking it, and
 * deriving subkeys with libsodium.
 *
 * The file holds one line of 64 hex digits (comment lines start with '#').
 * A new file is written to a temporary name in the same folder with mode
 * 0600 and linked into place, so a reader never sees half a key and two
 * processes making one at once end up sharing the first.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/sha256.h"
#include "store/key.h"
#include "store/store.h"

static const char KDF_CONTEXT[crypto_kdf_CONTEXTBYTES + 1] = "qloopkey";
enum { CHECK_ID = 0 }; /* subkey 0: the check value kept in the store */

enum key_state {
    KEY_OK,
    KEY_MISSING,    /* no file at the path */
    KEY_UNREADABLE, /* not a regular file, unreadable, or not a key */
    KEY_TOO_OPEN,   /* group or others may read it */
    KEY_FOREIGN,    /* a key, but not this store's */
};

struct key_entry {
    sqlite3 *db;
    enum key_state state;
    unsigned char master[crypto_kdf_KEYBYTES];
    char path[1024];
};

/* A few stores are open at once at most (a command, a test). */
static struct key_entry entries[16];

static struct key_entry *entry_of(sqlite3 *db)
{
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
        if (entries[i].db == db)
            return &entries[i];
    return NULL;
}

void store_key_path(const char *db_path, char *out, size_t size)
{
    const char *env = getenv("QLOOP_KEY_FILE");
    if (env && *env)
        snprintf(out, size, "%s", env);
    else
        snprintf(out, size, "%s.key", db_path ? db_path : "");
}

/* The check value of master as 64 hex digits. */
static void check_hex(const unsigned char master[crypto_kdf_KEYBYTES], char out[65])
{
    unsigned char check[32];
    crypto_kdf_derive_from_key(check, sizeof check, CHECK_ID, KDF_CONTEXT, master);
    qloop_hex(check, sizeof check, out);
    sodium_memzero(check, sizeof check);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the key at path into master. */
static enum key_state read_key(const char *path, unsigned char master[crypto_kdf_KEYBYTES])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? KEY_MISSING : KEY_UNREADABLE;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return KEY_UNREADABLE;
    }
    if (sb.st_mode & 077) {
        close(fd);
        return KEY_TOO_OPEN;
    }
    char text[4096];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return KEY_UNREADABLE;
    text[n] = '\0';
    enum key_state st = KEY_UNREADABLE;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        while (*line == ' ' || *line == '\t' || *line == '\r')
            line++;
        if (*line == '#' || *line == '\0')
            continue;
        size_t i = 0;
        for (; i < crypto_kdf_KEYBYTES; i++) {
            int hi = hexval((unsigned char)line[2 * i]), lo = hi < 0 ? -1 : hexval((unsigned char)line[2 * i + 1]);
            if (hi < 0 || lo < 0)
                break;
            master[i] = (unsigned char)(hi << 4 | lo);
        }
        char rest = line[2 * crypto_kdf_KEYBYTES];
        st = i == crypto_kdf_KEYBYTES && (rest == '\0' || rest == '\r' || rest == ' ') ? KEY_OK
                                                                                       : KEY_UNREADABLE;
        break;
    }
    sodium_memzero(text, sizeof text);
    return st;
}

/* Makes a new key file at path (mode 0600). When another process made one
 * first, reads that instead. Returns 0, or -1 with err. */
static int make_key(const char *path, unsigned char master[crypto_kdf_KEYBYTES],
                    struct qloop_error *err)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return qloop_error_set(err, path, 0, 0,
                               "无法创建数据库的密钥文件（%s）；请检查该目录的写权限，"
                               "或用 QLOOP_KEY_FILE 指定密钥文件的位置",
                               strerror(errno));
    crypto_kdf_keygen(master);
    char hex[2 * crypto_kdf_KEYBYTES + 1];
    qloop_hex(master, crypto_kdf_KEYBYTES, hex);
    char text[512];
    int len = snprintf(text, sizeof text,
                       "# qloop 数据库密钥：请妥善保管并与数据库一起备份，不要放入数据库，不要外传\n%s\n",
                       hex);
    sodium_memzero(hex, sizeof hex);
    bool ok = fchmod(fd, 0600) == 0 && write(fd, text, (size_t)len) == len && fsync(fd) == 0;
    sodium_memzero(text, sizeof text);
    close(fd);
    if (ok && link(tmp, path) != 0) {
        ok = false;
        if (errno == EEXIST) { /* someone was quicker: use theirs */
            unlink(tmp);
            return read_key(path, master) == KEY_OK
                       ? 0
                       : qloop_error_set(err, path, 0, 0, "密钥文件无法读取；请检查该文件");
        }
    }
    unlink(tmp);
    if (!ok)
        return qloop_error_set(err, path, 0, 0,
                               "无法写入数据库的密钥文件（%s）；请检查磁盘空间和写权限",
                               strerror(errno));
    return 0;
}

/* The store's check value from meta into out (65 bytes); 0 when absent. */
static int stored_check(sqlite3 *db, char out[65])
{
    sqlite3_stmt *st;
    int found = 0;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'key_check'", -1, &st, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
            snprintf(out, 65, "%s", (const char *)sqlite3_column_text(st, 0));
            found = 1;
        }
        sqlite3_finalize(st);
    }
    return found;
}

/* Binds the store to master: writes its check value unless another process
 * bound it first. Returns 0, 1 when the store is read-only (left unbound), -1
 * with err. */
static int bind_store(sqlite3 *db, const unsigned char master[crypto_kdf_KEYBYTES],
                      struct qloop_error *err)
{
    char hex[65];
    check_hex(master, hex);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if ((rc & 0xff) == SQLITE_READONLY)
        return 1;
    if (rc != SQLITE_OK)
        return store_error(db, "记录数据库密钥", err);
    sqlite3_stmt *st;
    rc = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO meta(key, value) VALUES('key_check', ?1)", -1,
                            &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_OK || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int ro = (sqlite3_errcode(db) & 0xff) == SQLITE_READONLY;
        if (!ro)
            store_error(db, "记录数据库密钥", err);
        store_rollback(db);
        return ro ? 1 : -1;
    }
    return 0;
}

int store_key_attach(sqlite3 *db, struct qloop_error *err)
{
    if (sodium_init() < 0)
        return qloop_error_internal(err, NULL, "无法初始化 libsodium");
    store_key_forget(db);
    struct key_entry *e = entry_of(NULL);
    if (!e)
        return qloop_error_internal(err, NULL, "同时打开的数据库过多");
    memset(e, 0, sizeof *e);
    const char *file = sqlite3_db_filename(db, "main");
    if (!file || !*file) { /* in memory: a key for this process only */
        crypto_kdf_keygen(e->master);
        snprintf(e->path, sizeof e->path, "（内存数据库）");
        e->state = KEY_OK;
        e->db = db;
        return 0;
    }
    store_key_path(file, e->path, sizeof e->path);
    char want[65];
    if (stored_check(db, want)) {
        e->state = read_key(e->path, e->master);
        if (e->state == KEY_OK) {
            char have[65];
            check_hex(e->master, have);
            if (sodium_memcmp(have, want, 64) != 0)
                e->state = KEY_FOREIGN;
        }
        e->db = db;
        return 0;
    }
    /* Not bound yet: adopt the file at the path, or make one. */
    e->state = read_key(e->path, e->master);
    if (e->state == KEY_MISSING) {
        if (make_key(e->path, e->master, err) != 0)
            return -1;
        e->state = KEY_OK;
    }
    if (e->state == KEY_OK) {
        int b = bind_store(db, e->master, err);
        if (b < 0)
            return -1;
        if (b == 0 && stored_check(db, want)) { /* someone may have bound it first */
            char have[65];
            check_hex(e->master, have);
            if (sodium_memcmp(have, want, 64) != 0)
                e->state = KEY_FOREIGN;
        }
    }
    e->db = db;
    return 0;
}

void store_key_forget(sqlite3 *db)
{
    struct key_entry *e = db ? entry_of(db) : NULL;
    if (e) {
        sodium_memzero(e, sizeof *e);
        e->db = NULL;
    }
}

int store_key_check(sqlite3 *db, struct qloop_error *err)
{
    struct key_entry *e = entry_of(db);
    if (!e)
        return qloop_error_internal(err, NULL, "数据库的密钥尚未加载");
    switch (e->state) {
    case KEY_OK:
        return 0;
    case KEY_MISSING:
        return qloop_error_set(err, e->path, 0, 0,
                               "找不到数据库的密钥文件：没有它只能查看（脱敏），不能写入、核验审计链或查看原文；"
                               "请把该数据库的密钥文件放回这里，或用 QLOOP_KEY_FILE 指出它的位置");
    case KEY_TOO_OPEN:
        return qloop_error_set(err, e->path, 0, 0,
                               "密钥文件的权限过宽（同组或其他用户可读）；请执行 chmod 600 %s", e->path);
    case KEY_FOREIGN:
        return qloop_error_set(err, e->path, 0, 0,
                               "密钥文件不属于这个数据库；请找回该数据库自己的密钥文件"
                               "（或用 QLOOP_KEY_FILE 指出它），不要用别的数据库的密钥");
    case KEY_UNREADABLE:
    default:
        return qloop_error_set(err, e->path, 0, 0,
                               "密钥文件无法读取或内容不是 qloop 密钥；请检查该文件（应为一行 64 位十六进制数）");
    }
}

int store_key(sqlite3 *db, enum store_key_use use, unsigned char out[STORE_SUBKEY_BYTES],
              struct qloop_error *err)
{
    if (store_key_check(db, err) != 0)
        return -1;
    crypto_kdf_derive_from_key(out, STORE_SUBKEY_BYTES, (uint64_t)use, KDF_CONTEXT,
                               entry_of(db)->master);
    return 0;
}
