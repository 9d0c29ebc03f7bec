/*
 * memo.c — the pure parts of reusing Lua record rules' answers (memo.h):
 * the row fingerprint, the environment digest and a chunk's bytes.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bits.h"
#include "base/siphash.h"
#include "checks/calendar.h"
#include "checks/division.h"
#include "run/memo.h"

_Static_assert(MEMO_FP_KEY_BYTES == 16 + MEMO_NH_KEY_BYTES, "SipHash's key, then NH's");
_Static_assert(MEMO_NH_KEY_BYTES % 16 == 0, "NH takes the row's words in pairs");

/* 3: verdicts 2 bits a slot (2: a byte a slot; refused, as any other) */
enum { CHUNK_VERSION = 3, REASON_MAX = 65535 };
enum { DAY_AT = 1, DAY_BYTES = 8 }; /* where a chunk keeps its first day (memo.h) */

static const char FP_CONTEXT[crypto_kdf_CONTEXTBYTES + 1] = "qlmemofp";

void memo_fp_key(const unsigned char subkey[32], unsigned char key[MEMO_FP_KEY_BYTES])
{
    crypto_kdf_derive_from_key(key, 16, 1, FP_CONTEXT, subkey);
    /* NH's key: ChaCha20's stream under a key of its own (id 3) */
    unsigned char nh[crypto_stream_chacha20_KEYBYTES];
    static const unsigned char nonce[crypto_stream_chacha20_NONCEBYTES];
    crypto_kdf_derive_from_key(nh, sizeof nh, 3, FP_CONTEXT, subkey);
    crypto_stream_chacha20(key + 16, MEMO_NH_KEY_BYTES, nonce, nh);
    sodium_memzero(nh, sizeof nh);
}

void memo_data_key(const unsigned char subkey[32], unsigned char key[MEMO_DATA_KEY_BYTES])
{
    crypto_kdf_derive_from_key(key, MEMO_DATA_KEY_BYTES, 2, FP_CONTEXT, subkey);
}

/* The associated data of a sealed chunk: dataset, chunk, env. */
static void seal_ad(const char *dataset, uint64_t chunk, const unsigned char env[MEMO_ENV_BYTES],
                    struct qloop_buf *ad)
{
    qloop_buf_reset(ad);
    qloop_buf_append(ad, dataset, strlen(dataset) + 1);
    char c[8];
    for (int i = 0; i < 8; i++)
        c[i] = (char)(chunk >> (8 * i));
    qloop_buf_append(ad, c, 8);
    qloop_buf_append(ad, (const char *)env, MEMO_ENV_BYTES);
}

void memo_seal(const unsigned char key[MEMO_DATA_KEY_BYTES], const char *dataset, uint64_t chunk,
               const unsigned char env[MEMO_ENV_BYTES], const void *plain, size_t len,
               struct qloop_buf *out)
{
    struct qloop_buf ad = {0};
    seal_ad(dataset, chunk, env, &ad);
    enum { NB = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES };
    qloop_buf_reset(out);
    qloop_buf_reserve(out, NB + len + crypto_aead_xchacha20poly1305_ietf_ABYTES + 1);
    unsigned char *p = (unsigned char *)out->ptr;
    randombytes_buf(p, NB);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(p + NB, &clen, plain, len,
                                               (const unsigned char *)ad.ptr, ad.len, NULL, p, key);
    out->len = NB + (size_t)clen;
    qloop_buf_free(&ad);
}

int memo_open(const unsigned char key[MEMO_DATA_KEY_BYTES], const char *dataset, uint64_t chunk,
              const unsigned char env[MEMO_ENV_BYTES], const void *sealed, size_t len,
              struct qloop_buf *out)
{
    enum { NB = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
           AB = crypto_aead_xchacha20poly1305_ietf_ABYTES };
    qloop_buf_reset(out);
    if (len < NB + AB)
        return -1;
    struct qloop_buf ad = {0};
    seal_ad(dataset, chunk, env, &ad);
    qloop_buf_reserve(out, len - NB - AB + 1);
    const unsigned char *s = sealed;
    unsigned long long mlen = 0;
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)out->ptr, &mlen, NULL,
                                                        s + NB, len - NB, (const unsigned char *)ad.ptr,
                                                        ad.len, s, key);
    qloop_buf_free(&ad);
    out->len = rc == 0 ? (size_t)mlen : 0;
    return rc == 0 ? 0 : -1;
}

/* Writes v little-endian at p; returns p + 4. */
static unsigned char *put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
    return p + 4;
}

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 nh_sum;
#define NH_ADD(s, a, b) ((s) += (nh_sum)(a) * (b))
#define NH_LO(s) ((uint64_t)(s))
#define NH_HI(s) ((uint64_t)((s) >> 64))
#else
/* The same sum mod 2^128 without a 128-bit type. */
typedef struct { uint64_t lo, hi; } nh_sum;
static inline void nh_add(nh_sum *s, uint64_t a, uint64_t b)
{
    uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    uint64_t lo = (ll & 0xffffffffu) | mid << 32;
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    s->lo += lo;
    s->hi += hi + (s->lo < lo);
}
#define NH_ADD(s, a, b) nh_add(&(s), (a), (b))
#define NH_LO(s) ((s).lo)
#define NH_HI(s) ((s).hi)
#endif

uint64_t memo_row_fp(const unsigned char key[MEMO_FP_KEY_BYTES], const struct qloop_field *cells,
                     size_t ncols, struct qloop_buf *scratch)
{
    /* the row's bytes laid out once (sized first: one allocation check per
     * row, not two appends per cell), zeros up to whole 16-byte pairs */
    size_t need = 4;
    for (size_t i = 0; i < ncols; i++)
        need += 4 + (cells[i].null ? 0 : cells[i].len);
    size_t padded = (need + 15) & ~(size_t)15;
    qloop_buf_reset(scratch);
    qloop_buf_reserve(scratch, padded);
    unsigned char *p = put_u32((unsigned char *)scratch->ptr, (uint32_t)ncols);
    for (size_t i = 0; i < ncols; i++) {
        const struct qloop_field *f = &cells[i];
        /* a missing value (null) is not an empty text: 0xFFFFFFFF, no bytes */
        if (f->null) {
            p = put_u32(p, UINT32_MAX);
            continue;
        }
        p = put_u32(p, f->len >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)f->len);
        memcpy(p, f->ptr, f->len);
        p += f->len;
    }
    memset(p, 0, padded - need);
    scratch->len = need;
    /* NH over each block of MEMO_NH_KEY_BYTES (the key's bytes from 16 on),
     * each block's 128-bit sum, then the unpadded length, through
     * SipHash-1-3 under the key's first 16 bytes (memo.h) */
    const unsigned char *s = (const unsigned char *)scratch->ptr, *nk = key + 16;
    uint64_t v[4];
    qloop_sip_init(v, key);
    for (size_t at = 0; at < padded; at += MEMO_NH_KEY_BYTES) {
        size_t n = padded - at < MEMO_NH_KEY_BYTES ? padded - at : MEMO_NH_KEY_BYTES;
        const unsigned char *m = s + at;
        nh_sum sum = {0};
        for (size_t i = 0; i < n; i += 16)
            NH_ADD(sum, qloop_sip_load(m + i) + qloop_sip_load(nk + i),
                   qloop_sip_load(m + i + 8) + qloop_sip_load(nk + i + 8));
        qloop_sip_word(v, NH_LO(sum), 1);
        qloop_sip_word(v, NH_HI(sum), 1);
    }
    qloop_sip_word(v, (uint64_t)need, 1);
    return qloop_sip_final(v, 3);
}

/* ---- the environment ---- */

/* The BLAKE2b digest of this process's own binary, read once: any other
 * build of qloop (another version, or the same one changed) differs. */
static unsigned char binary_digest[32];
static int binary_ok = -1;
static pthread_once_t binary_once = PTHREAD_ONCE_INIT;

static void read_binary(void)
{
    FILE *f = fopen("/proc/self/exe", "rb");
    if (!f) {
        binary_ok = 0;
        return;
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof binary_digest);
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        crypto_generichash_update(&st, buf, n);
    binary_ok = !ferror(f);
    fclose(f);
    crypto_generichash_final(&st, binary_digest, sizeof binary_digest);
}

/* Hashes a length-prefixed text. */
static void put_text(crypto_generichash_state *st, const char *s, size_t len)
{
    uint64_t n = len;
    crypto_generichash_update(st, (const unsigned char *)&n, sizeof n);
    crypto_generichash_update(st, (const unsigned char *)s, len);
}

static void put_str(crypto_generichash_state *st, const char *s)
{
    if (!s) {
        uint64_t none = UINT64_MAX;
        crypto_generichash_update(st, (const unsigned char *)&none, sizeof none);
        return;
    }
    put_text(st, s, strlen(s));
}

int memo_env(const struct pack *p, const struct pack_dataset *d, const size_t *rules,
             size_t nrules, const char *const *names, size_t ncols,
             unsigned char out[MEMO_ENV_BYTES])
{
    pthread_once(&binary_once, read_binary);
    if (binary_ok != 1)
        return -1;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, MEMO_ENV_BYTES);
    put_str(&st, "qloop verdict memo 2"); /* 2: NH fingerprints */
    crypto_generichash_update(&st, binary_digest, sizeof binary_digest);
    /* the pack: every file, its path and the digest of the bytes it was
     * loaded from (rules, limits, helpers; not read again: a file edited
     * since cannot stand for the code that ran) */
    put_text(&st, (const char *)&p->nfiles, sizeof p->nfiles);
    for (size_t i = 0; i < p->nfiles; i++) {
        put_str(&st, p->files[i]);
        crypto_generichash_update(&st, p->file_digests[i], sizeof p->file_digests[i]);
    }
    int64_t limits[3] = {(int64_t)p->limits.memory_bytes, p->limits.instructions,
                         p->limits.exit_on_timeout};
    crypto_generichash_update(&st, (const unsigned char *)limits, sizeof limits);
    crypto_generichash_update(&st, (const unsigned char *)&p->limits.cpu_seconds,
                              sizeof p->limits.cpu_seconds);
    /* the dataset, its memoised rules in slot order, its columns in order */
    put_str(&st, d->name);
    put_text(&st, (const char *)&nrules, sizeof nrules);
    for (size_t i = 0; i < nrules; i++) {
        put_str(&st, p->rules[rules[i]].id);
        put_str(&st, p->rules[rules[i]].file);
        put_text(&st, (const char *)&p->rules[rules[i]].line, sizeof p->rules[rules[i]].line);
    }
    put_text(&st, (const char *)&ncols, sizeof ncols);
    for (size_t i = 0; i < ncols; i++)
        put_str(&st, names[i]);
    /* the reference data the libraries read */
    char divisions[65];
    division_digest(divisions);
    put_str(&st, divisions);
    uint8_t calendar[32];
    calendar_digest(calendar);
    crypto_generichash_update(&st, calendar, sizeof calendar);
    crypto_generichash_final(&st, out, MEMO_ENV_BYTES);
    return 0;
}

/* ---- a chunk's bytes ---- */

static void put_varint(struct qloop_buf *b, uint64_t v)
{
    char t[QLOOP_VARINT_MAX];
    qloop_buf_append(b, t, (size_t)(qloop_varint_put(t, v) - t));
}

void memo_chunk_start(struct qloop_buf *out, size_t nslots)
{
    qloop_buf_reset(out);
    qloop_buf_putc(out, CHUNK_VERSION);
    char day[DAY_BYTES];
    for (int i = 0; i < DAY_BYTES; i++)
        day[i] = (char)(MEMO_DAY_NEVER >> (8 * i)); /* until memo_chunk_stamp */
    qloop_buf_append(out, day, DAY_BYTES);
    put_varint(out, nslots);
}

void memo_chunk_stamp(struct qloop_buf *out, int64_t from_day)
{
    if (out->len < DAY_AT + DAY_BYTES)
        return;
    for (int i = 0; i < DAY_BYTES; i++)
        out->ptr[DAY_AT + i] = (char)((uint64_t)from_day >> (8 * i));
}

bool memo_chunk_same(const struct memo_chunk *c, const void *made, size_t len)
{
    const unsigned char *m = made;
    return c->len == len && len >= DAY_AT + DAY_BYTES && c->data[0] == m[0] &&
           memcmp(c->data + DAY_AT + DAY_BYTES, m + DAY_AT + DAY_BYTES,
                  len - DAY_AT - DAY_BYTES) == 0;
}

void memo_chunk_add(struct qloop_buf *out, uint32_t *last, uint32_t slot, uint64_t fp,
                    const uint8_t *v, const char *const *reasons, size_t nslots)
{
    /* the gap, fingerprint and verdicts written in place: one size check
     * a row (this runs on the run's thread for every row of a night) */
    size_t nb = memo_verdict_bytes(nslots);
    qloop_buf_reserve(out, QLOOP_VARINT_MAX + 8 + nb);
    char *o = qloop_varint_put(out->ptr + out->len, (uint64_t)slot + 1 - *last);
    *last = slot + 1;
    for (int i = 0; i < 8; i++)
        *o++ = (char)(fp >> (8 * i));
    unsigned char *vb = (unsigned char *)o;
    for (size_t k = 0; k < nslots; k += 4) { /* a byte of four slots made in a register */
        unsigned x = 0;
        for (size_t j = 0; j < 4 && k + j < nslots; j++)
            x |= (unsigned)(v[k + j] <= MEMO_FAIL_REASON ? v[k + j] : MEMO_NONE) << (2 * j);
        *o++ = (char)x;
    }
    out->len = (size_t)(o - out->ptr);
    out->ptr[out->len] = '\0';
    for (size_t k = 0; k < nslots; k++) {
        if (v[k] != MEMO_FAIL_REASON)
            continue;
        size_t n = reasons[k] ? strlen(reasons[k]) : 0;
        if (!reasons[k] || n > REASON_MAX) {
            vb[k / 4] &= (unsigned char)~(3u << (2 * (k % 4))); /* MEMO_NONE */
            continue;
        }
        char h[2] = {(char)n, (char)(n >> 8)};
        qloop_buf_append(out, h, 2);
        qloop_buf_append(out, reasons[k], n + 1); /* with its NUL */
    }
    qloop_buf_putc(out, 0); /* no sealed copies (memo_chunk_seals) */
}

void memo_chunk_seals(struct qloop_buf *out, const struct memo_sealed *s, size_t n)
{
    if (n == 0 || out->len == 0)
        return;
    out->len--; /* the row's count of none */
    put_varint(out, n);
    for (size_t i = 0; i < n; i++) {
        put_varint(out, s[i].rule);
        put_varint(out, s[i].len);
        qloop_buf_append(out, s[i].bytes, s[i].len);
    }
}

/* The bits of a verdict byte whose slots are MEMO_FAIL_REASON (both bits
 * set): slot j's low bit, 0 when none is. */
static inline unsigned reason_bits(uint8_t b) { return (unsigned)(b & b >> 1 & 0x55); }

/* Where, in an entry of nslots slots, the reason of slot k starts (its
 * length's first byte); k == nslots: past every reason, where the entry's
 * sealed copies start. */
static const uint8_t *entry_reasons_to(const uint8_t *e, size_t nslots, size_t k)
{
    const uint8_t *p = e + 8 + memo_verdict_bytes(nslots);
    for (size_t i = 0; i < k; i++) {
        if (i % 4 == 0 && !reason_bits(e[8 + i / 4])) {
            i += 3; /* no reason in this byte's slots from i on */
            continue;
        }
        if (memo_entry_verdict(e, i) == MEMO_FAIL_REASON)
            p += 2 + ((size_t)p[0] | (size_t)p[1] << 8) + 1;
    }
    return p;
}

const void *memo_entry_sealed(const uint8_t *e, size_t nslots, uint32_t rule, size_t *len)
{
    const uint8_t *p = entry_reasons_to(e, nslots, nslots);
    uint64_t n = qloop_varint_next(&p);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = qloop_varint_next(&p), l = qloop_varint_next(&p);
        if (r == rule) {
            *len = (size_t)l;
            return p;
        }
        p += l;
    }
    return NULL;
}

const char *memo_entry_reason(const uint8_t *e, size_t nslots, size_t k)
{
    return (const char *)entry_reasons_to(e, nslots, k) + 2;
}

void memo_chunk_free(struct memo_chunk *c)
{
    free(c->data);
    free(c->at);
    memset(c, 0, sizeof *c);
}

/* Indexes the chunk of nslots slots in data[0..len) into c (data kept as
 * c->data: the caller's, freed with c). Returns 0, or -1 with c empty and
 * data not freed. */
static int index_chunk(struct memo_chunk *c, unsigned char *data, size_t len, size_t nslots)
{
    memset(c, 0, sizeof *c);
    const unsigned char *d = data;
    size_t at = 0;
    uint64_t n;
    if (len < DAY_AT + DAY_BYTES || d[0] != CHUNK_VERSION)
        return -1;
    int64_t from_day = (int64_t)qloop_load_le64(d + DAY_AT, DAY_BYTES);
    at = DAY_AT + DAY_BYTES;
    if (!qloop_varint_get(d, len, &at, &n) || n != nslots)
        return -1;
    c->from_day = from_day;
    c->nslots = nslots;
    c->len = len;
    c->data = data;
    c->at = qloop_xmalloc(MEMO_CHUNK_ROWS * sizeof *c->at);
    memset(c->at, 0xFF, MEMO_CHUNK_ROWS * sizeof *c->at);
    uint64_t next = 0; /* the previous row's slot + 1 */
    size_t nb = memo_verdict_bytes(nslots);
    /* the last verdict byte's bits past the last slot are zero */
    unsigned char unused = nslots % 4 ? (unsigned char)(0xFFu << (2 * (nslots % 4))) : 0;
    while (at < len) {
        uint64_t gap;
        if (!qloop_varint_get(d, len, &at, &gap) || gap == 0 || gap > MEMO_CHUNK_ROWS - next + 0 ||
            len - at < 8 + nb)
            goto bad;
        uint64_t slot = next + gap - 1;
        if (slot >= MEMO_CHUNK_ROWS)
            goto bad;
        next = slot + 1;
        c->at[slot] = (uint32_t)at;
        const unsigned char *e = d + at;
        if (nb && (e[8 + nb - 1] & unused))
            goto bad;
        at += 8 + nb;
        for (size_t k = 0; k < nslots; k++) {
            if (k % 4 == 0 && !reason_bits(e[8 + k / 4])) {
                k += 3; /* none of the byte's four slots has a reason */
                continue;
            }
            if (memo_entry_verdict(e, k) != MEMO_FAIL_REASON)
                continue;
            if (len - at < 2)
                goto bad;
            size_t r = (size_t)d[at] | (size_t)d[at + 1] << 8;
            if (len - at - 2 < r + 1 || d[at + 2 + r] != '\0' || memchr(d + at + 2, 0, r))
                goto bad;
            at += 2 + r + 1;
        }
        uint64_t nseals;
        if (!qloop_varint_get(d, len, &at, &nseals))
            goto bad;
        for (uint64_t i = 0; i < nseals; i++) {
            uint64_t rule, slen;
            if (!qloop_varint_get(d, len, &at, &rule) || rule > UINT32_MAX ||
                !qloop_varint_get(d, len, &at, &slen) || slen > len - at)
                goto bad;
            at += (size_t)slen;
        }
    }
    return 0;
bad:
    free(c->at);
    memset(c, 0, sizeof *c);
    return -1;
}

int memo_chunk_read(struct memo_chunk *c, const void *data, size_t len, size_t nslots)
{
    unsigned char *copy = qloop_xmalloc(len + 1);
    if (len)
        memcpy(copy, data, len);
    if (index_chunk(c, copy, len, nslots) != 0) {
        free(copy);
        return -1;
    }
    return 0;
}

int memo_chunk_take(struct memo_chunk *c, struct qloop_buf *buf, size_t nslots)
{
    if (!buf->ptr || index_chunk(c, (unsigned char *)buf->ptr, buf->len, nslots) != 0) {
        memset(c, 0, sizeof *c);
        return -1;
    }
    *buf = (struct qloop_buf){0};
    return 0;
}
