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
_Static_assert((int)NONCE == (int)SEAL_NONCE_BYTES, "the derived nonce is XChaCha20's");

/* The nonce key's place among the keys derived from the records subkey,
 * and their context (crypto_kdf: 8 bytes). */
#define NONCE_KEY_ID 1
static const char nonce_context[crypto_kdf_CONTEXTBYTES + 1] = "qlsealnc";

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
    seal_nonce_key_set(&s->nonce, nonce_key);
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

/* The nonce of a seal (seal.h) into nonce: the record's identity id
 * (dataset, record_ref, field — NULL: absent) of lengths idlen and its raw
 * key and value under the nonce key (seal_nonce.h). */
static void record_nonce(const struct ident_sealer *s, const char *const id[3],
                         const size_t idlen[3], const struct ident_record *r, unsigned char *nonce)
{
    struct seal_nonce_input in = {
        .part = {id[0], id[1], id[2], r->key ? r->key : "", r->value},
        .len = {idlen[0], idlen[1], idlen[2], r->keylen, r->value ? r->vlen : 0},
    };
    seal_nonce(&s->nonce, &in, nonce);
}

void ident_seal(const struct ident_sealer *s, const char *dataset, const char *record_ref,
                const char *field, const struct ident_record *r, struct qloop_buf *out)
{
    /* The record's identity, measured once for the associated data and the
     * nonce: a NULL dataset or record_ref is "" in both, a NULL field ""
     * in the associated data and absent from the nonce's input. */
    const char *id[3] = {dataset ? dataset : "", record_ref ? record_ref : "", field};
    size_t idlen[3] = {strlen(id[0]), strlen(id[1]), field ? strlen(field) : 0};
    char adbuf[512];
    struct qloop_buf ad = {0};
    size_t adlen = idlen[0] + idlen[1] + idlen[2] + 3;
    const unsigned char *adp;
    if (adlen <= sizeof adbuf) { /* the usual case: no allocation */
        size_t at = 0;
        for (int i = 0; i < 3; i++) {
            if (idlen[i])
                memcpy(adbuf + at, id[i], idlen[i]);
            at += idlen[i];
            adbuf[at++] = '\0';
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
    record_nonce(s, id, idlen, r, nonce);
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
    if (adp == (const unsigned char *)adbuf)
        sodium_memzero(adbuf, adlen);
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
