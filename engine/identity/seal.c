/*
 * seal.c — sealing and opening a record's raw key and value (seal.h).
 */
#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#include "identity/seal.h"
#include "store/key.h"

enum {
    VERSION = 1,
    NONCE = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, /* 24 */
    TAG = crypto_aead_xchacha20poly1305_ietf_ABYTES,      /* 16 */
};

_Static_assert(STORE_SUBKEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "the records subkey is an XChaCha20-Poly1305 key");
_Static_assert(STORE_SUBKEY_BYTES == crypto_kdf_KEYBYTES, "the nonce key is derived from it");
_Static_assert(NONCE >= crypto_generichash_BYTES_MIN && NONCE <= crypto_generichash_BYTES_MAX,
               "a BLAKE2b output can be the nonce");

/* The nonce key's place among the keys derived from the records subkey,
 * and their context (crypto_kdf: 8 bytes). */
#define NONCE_KEY_ID 1
static const char nonce_context[crypto_kdf_CONTEXTBYTES + 1] = "qlsealnc";
_Static_assert(sizeof(crypto_generichash_state) == sizeof(((struct ident_sealer *)0)->nonce_base),
               "the nonce's base state fits its bytes");

/* The head of one part of the nonce's input into head: a byte saying
 * whether the part is there, then (if so) its 8-byte big-endian length; the
 * part's bytes follow it. Returns the head's length (1 or 9). */
static size_t part_head(unsigned char head[9], size_t n, bool present)
{
    head[0] = present;
    if (!present)
        return 1;
    for (int i = 0; i < 8; i++)
        head[1 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    return 9;
}

/* Hashes one part of the nonce's input into h: its head, its bytes. */
static void nonce_part(crypto_generichash_state *h, const void *p, size_t n, bool present)
{
    unsigned char head[9];
    crypto_generichash_update(h, head, part_head(head, n, present));
    if (present && n)
        crypto_generichash_update(h, p, n);
}

/* The nonce's hash as every seal begins it: BLAKE2b keyed with nonce_key,
 * 24 bytes out, the domain part hashed; written into base as bytes. The key
 * block is compressed here once instead of in each seal. */
static void nonce_start(const unsigned char nonce_key[32], unsigned char *base)
{
    static const char domain[] = "qloop seal nonce 1";
    crypto_generichash_state h;
    crypto_generichash_init(&h, nonce_key, 32, NONCE);
    nonce_part(&h, domain, sizeof domain - 1, true);
    memcpy(base, &h, sizeof h);
    sodium_memzero(&h, sizeof h);
}

int ident_sealer_open(sqlite3 *db, struct ident_sealer *s, struct qloop_error *err)
{
    memset(s, 0, sizeof *s);
    if (sodium_init() < 0)
        return qloop_error_internal(err, NULL, "无法初始化 libsodium");
    if (store_key(db, STORE_KEY_RECORDS, s->key, err) != 0)
        return -1;
    unsigned char nonce_key[32];
    if (crypto_kdf_derive_from_key(nonce_key, sizeof nonce_key, NONCE_KEY_ID, nonce_context,
                                   s->key) != 0) {
        sodium_memzero(s, sizeof *s);
        return qloop_error_internal(err, NULL, "无法派生加密副本的密钥");
    }
    nonce_start(nonce_key, s->nonce_base);
    sodium_memzero(nonce_key, sizeof nonce_key);
    return 0;
}

void ident_sealer_close(struct ident_sealer *s)
{
    sodium_memzero(s, sizeof *s);
}

/* The associated data: dataset, record_ref and field, each NUL-ended. */
static void put_ad(struct qloop_buf *ad, const char *dataset, const char *record_ref,
                   const char *field)
{
    const char *parts[3] = {dataset, record_ref, field};
    for (int i = 0; i < 3; i++) {
        const char *p = parts[i] ? parts[i] : "";
        qloop_buf_append(ad, p, strlen(p) + 1);
    }
}

/* The nonce of a seal (seal.h): BLAKE2b under the nonce key over the
 * record's identity and raw key and value, each part framed by nonce_part;
 * a NULL dataset or record_ref is "", as in the associated data. */
static void seal_nonce(const struct ident_sealer *s, const char *dataset, const char *record_ref,
                       const char *field, const struct ident_record *r, unsigned char *nonce)
{
    crypto_generichash_state h;
    memcpy(&h, s->nonce_base, sizeof h); /* the key block and domain part: nonce_start */
    dataset = dataset ? dataset : "";
    record_ref = record_ref ? record_ref : "";
    const void *part[5] = {dataset, record_ref, field, r->key, r->value};
    size_t len[5] = {strlen(dataset), strlen(record_ref), field ? strlen(field) : 0, r->keylen,
                     r->value ? r->vlen : 0};
    bool present[5] = {true, true, field != NULL, true, r->value != NULL};
    /* The usual record's parts framed into one buffer and hashed by one
     * update (the same bytes as a nonce_part each: nine updates cost more
     * than the hashing); a long record part by part. */
    unsigned char framed[512];
    size_t n = 0;
    for (int i = 0; i < 5; i++)
        n += present[i] ? 9 + len[i] : 1;
    if (n <= sizeof framed) {
        n = 0;
        for (int i = 0; i < 5; i++) {
            n += part_head(framed + n, len[i], present[i]);
            if (present[i] && len[i])
                memcpy(framed + n, part[i], len[i]);
            n += present[i] ? len[i] : 0;
        }
        crypto_generichash_update(&h, framed, n);
        sodium_memzero(framed, n);
    } else {
        for (int i = 0; i < 5; i++)
            nonce_part(&h, part[i], len[i], present[i]);
    }
    crypto_generichash_final(&h, nonce, NONCE);
    sodium_memzero(&h, sizeof h);
}

void ident_seal(const struct ident_sealer *s, const char *dataset, const char *record_ref,
                const char *field, const struct ident_record *r, struct qloop_buf *out)
{
    char adbuf[512];
    struct qloop_buf ad = {0};
    size_t adlen = 0;
    const char *parts[3] = {dataset ? dataset : "", record_ref ? record_ref : "", field ? field : ""};
    size_t need = strlen(parts[0]) + strlen(parts[1]) + strlen(parts[2]) + 3;
    const unsigned char *adp;
    if (need <= sizeof adbuf) { /* the usual case: no allocation */
        for (int i = 0; i < 3; i++) {
            size_t n = strlen(parts[i]) + 1;
            memcpy(adbuf + adlen, parts[i], n);
            adlen += n;
        }
        adp = (const unsigned char *)adbuf;
    } else {
        put_ad(&ad, dataset, record_ref, field);
        adp = (const unsigned char *)ad.ptr;
        adlen = ad.len;
    }
    size_t vlen = r->value ? r->vlen : 0, plen = 4 + r->keylen + 1 + vlen;
    qloop_buf_reset(out);
    qloop_buf_reserve(out, 1 + NONCE + plen + TAG);
    unsigned char *o = (unsigned char *)out->ptr;
    o[0] = VERSION;
    unsigned char *nonce = o + 1, *c = o + 1 + NONCE;
    seal_nonce(s, dataset, record_ref, field, r, nonce);
    /* The plaintext is built in place, then encrypted over itself. */
    c[0] = (unsigned char)(r->keylen >> 24);
    c[1] = (unsigned char)(r->keylen >> 16);
    c[2] = (unsigned char)(r->keylen >> 8);
    c[3] = (unsigned char)r->keylen;
    if (r->keylen)
        memcpy(c + 4, r->key, r->keylen);
    c[4 + r->keylen] = r->value != NULL;
    if (vlen)
        memcpy(c + 5 + r->keylen, r->value, vlen);
    unsigned long long clen;
    crypto_aead_xchacha20poly1305_ietf_encrypt(c, &clen, c, plen, adp, adlen, NULL, nonce, s->key);
    out->len = 1 + NONCE + (size_t)clen;
    out->ptr[out->len] = '\0';
    sodium_memzero(adbuf, sizeof adbuf);
    qloop_buf_free(&ad);
}

int ident_unseal(const struct ident_sealer *s, const char *dataset, const char *record_ref,
                 const char *field, const void *blob, size_t len, struct qloop_buf *plain,
                 struct ident_record *r, struct qloop_error *err)
{
    const unsigned char *b = blob;
    memset(r, 0, sizeof *r);
    if (!b || len < 1 + NONCE + TAG + 5 || b[0] != VERSION)
        return qloop_error_internal(err, NULL, "记录 %s 的加密副本已损坏（格式不对）；只能显示脱敏内容",
                                    record_ref ? record_ref : "");
    struct qloop_buf ad = {0};
    put_ad(&ad, dataset, record_ref, field);
    size_t clen = len - 1 - NONCE;
    qloop_buf_reset(plain);
    qloop_buf_reserve(plain, clen + 2);
    unsigned char *p = (unsigned char *)plain->ptr;
    unsigned long long plen = 0;
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(p, &plen, NULL, b + 1 + NONCE, clen,
                                                        (const unsigned char *)ad.ptr, ad.len,
                                                        b + 1, s->key);
    qloop_buf_free(&ad);
    if (rc != 0)
        return qloop_error_internal(err, NULL,
                                    "记录 %s 的加密副本无法解开（被改动过，或不是用本数据库的密钥加密的）；"
                                    "只能显示脱敏内容",
                                    record_ref ? record_ref : "");
    size_t keylen = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (plen < 5 || keylen > plen - 5)
        return qloop_error_internal(err, NULL, "记录 %s 的加密副本内容不完整", record_ref ? record_ref : "");
    size_t vlen = (size_t)plen - 5 - keylen;
    bool has_value = p[4 + keylen] != 0;
    /* Lay the two out NUL-terminated: key at p+4 (its NUL overwrites the
     * flag byte), value moved one byte to the right after it. */
    memmove(p + 4 + keylen + 2, p + 5 + keylen, vlen);
    p[4 + keylen] = '\0';
    p[4 + keylen + 2 + vlen] = '\0';
    plain->len = 4 + keylen + 2 + vlen;
    r->key = (const char *)p + 4;
    r->keylen = keylen;
    r->value = has_value ? (const char *)p + 4 + keylen + 2 : NULL;
    r->vlen = has_value ? vlen : 0;
    return 0;
}

void ident_plain_free(struct qloop_buf *plain)
{
    if (plain->ptr)
        sodium_memzero(plain->ptr, plain->cap);
    qloop_buf_free(plain);
}
