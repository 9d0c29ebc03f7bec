/*
 * seal_nonce.c — the derived nonce of a seal (seal_nonce.h): keyed BLAKE2b
 * from a chain value that has the key block compressed already, checked
 * against libsodium's crypto_generichash, which stays the reference and
 * the fallback.
 */
#include <sodium.h>
#include <string.h>

#include "identity/seal_nonce.h"

enum {
    BLOCK = 128,        /* BLAKE2b's block */
    OWN_MAX = 4 * BLOCK /* longer inputs (rare: long values) go libsodium's way */
};

_Static_assert(SEAL_NONCE_BYTES >= crypto_generichash_BYTES_MIN &&
                   SEAL_NONCE_BYTES <= crypto_generichash_BYTES_MAX,
               "a BLAKE2b output can be the nonce");

int seal_nonce_test_fault;

/* The domain part, hashed first (seal.h). */
static const char domain[] = "qloop seal nonce 1";

/* The head of one part into head: a byte saying whether the part is there,
 * then (if so) its 8-byte big-endian length; the part's bytes follow it.
 * Returns the head's length (1 or 9). */
static size_t part_head(unsigned char head[9], size_t n, bool present)
{
    head[0] = present;
    if (!present)
        return 1;
    for (int i = 0; i < 8; i++)
        head[1 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    return 9;
}

/* Hashes one framed part into h: its head, its bytes. */
static void hash_part(crypto_generichash_state *h, const void *p, size_t n, bool present)
{
    unsigned char head[9];
    crypto_generichash_update(h, head, part_head(head, n, present));
    if (present && n)
        crypto_generichash_update(h, p, n);
}

void seal_nonce_reference(const struct seal_nonce_key *k, const struct seal_nonce_input *in,
                          unsigned char nonce[SEAL_NONCE_BYTES])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, k->key, sizeof k->key, SEAL_NONCE_BYTES);
    hash_part(&h, domain, sizeof domain - 1, true);
    for (int i = 0; i < SEAL_NONCE_PARTS; i++)
        hash_part(&h, in->part[i], in->len[i], in->part[i] != NULL);
    crypto_generichash_final(&h, nonce, SEAL_NONCE_BYTES);
    sodium_memzero(&h, sizeof h);
}

/* BLAKE2b's initialisation vector and message schedule (RFC 7693). */
static const uint64_t iv[8] = {0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
                               0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
                               0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};
static const unsigned char sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

/* The block's sixteen little-endian 64-bit words into m. */
static inline void load_block(uint64_t m[16], const unsigned char *block)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(m, block, 16 * sizeof m[0]);
#else
    for (int w = 0; w < 16; w++) {
        uint64_t x = 0;
        for (int i = 7; i >= 0; i--)
            x = x << 8 | block[8 * w + i];
        m[w] = x;
    }
#endif
}

#define ROTR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define G(r, i, a, b, c, d)                                                                        \
    do {                                                                                           \
        a = a + b + m[sigma[r][2 * (i)]];                                                          \
        d = ROTR64(d ^ a, 32);                                                                     \
        c = c + d;                                                                                 \
        b = ROTR64(b ^ c, 24);                                                                     \
        a = a + b + m[sigma[r][2 * (i) + 1]];                                                      \
        d = ROTR64(d ^ a, 16);                                                                     \
        c = c + d;                                                                                 \
        b = ROTR64(b ^ c, 63);                                                                     \
    } while (0)
#define ROUND(r)                                                                                   \
    do {                                                                                           \
        G(r, 0, v[0], v[4], v[8], v[12]);                                                          \
        G(r, 1, v[1], v[5], v[9], v[13]);                                                          \
        G(r, 2, v[2], v[6], v[10], v[14]);                                                         \
        G(r, 3, v[3], v[7], v[11], v[15]);                                                         \
        G(r, 4, v[0], v[5], v[10], v[15]);                                                         \
        G(r, 5, v[1], v[6], v[11], v[12]);                                                         \
        G(r, 6, v[2], v[7], v[8], v[13]);                                                          \
        G(r, 7, v[3], v[4], v[9], v[14]);                                                          \
    } while (0)

/* BLAKE2b's compression function F (RFC 7693 3.2): folds the 128-byte block
 * into the chain value h; t is the count of bytes hashed so far including
 * this block (never 2^64 or more here), last whether it is the final one. */
static void compress(uint64_t h[8], const unsigned char block[BLOCK], uint64_t t, bool last)
{
    uint64_t m[16], v[16];
    load_block(m, block);
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[8 + i] = iv[i];
    }
    v[12] ^= t;
    if (last)
        v[14] = ~v[14];
    ROUND(0);
    ROUND(1);
    ROUND(2);
    ROUND(3);
    ROUND(4);
    ROUND(5);
    ROUND(6);
    ROUND(7);
    ROUND(8);
    ROUND(9);
    ROUND(10);
    ROUND(11);
    for (int i = 0; i < 8; i++)
        h[i] ^= v[i] ^ v[8 + i];
}

/* The nonce of in by the chain value (the key block compressed), or false
 * when the framed input is longer than OWN_MAX bytes (or one part is). The
 * whole input is framed into one zero-padded buffer, whose blocks are
 * compressed in turn: the counter after the key block's 128 bytes, the last
 * block flagged. */
static bool own_nonce(const struct seal_nonce_key *k, const struct seal_nonce_input *in,
                      unsigned char nonce[SEAL_NONCE_BYTES])
{
    size_t n = 9 + sizeof domain - 1;
    for (int i = 0; i < SEAL_NONCE_PARTS; i++) {
        if (in->part[i] && in->len[i] > OWN_MAX) /* and so the sum never wraps */
            return false;
        n += in->part[i] ? 9 + in->len[i] : 1;
    }
    if (n > OWN_MAX)
        return false;
    unsigned char buf[OWN_MAX];
    size_t at = part_head(buf, sizeof domain - 1, true);
    memcpy(buf + at, domain, sizeof domain - 1);
    at += sizeof domain - 1;
    for (int i = 0; i < SEAL_NONCE_PARTS; i++) {
        at += part_head(buf + at, in->len[i], in->part[i] != NULL);
        if (in->part[i] && in->len[i]) {
            memcpy(buf + at, in->part[i], in->len[i]);
            at += in->len[i];
        }
    }
    size_t blocks = (n + BLOCK - 1) / BLOCK; /* n >= 27: at least one */
    memset(buf + n, 0, blocks * BLOCK - n);
    uint64_t h[8];
    memcpy(h, k->chain, sizeof h);
    for (size_t b = 0; b + 1 < blocks; b++)
        compress(h, buf + b * BLOCK, BLOCK + (b + 1) * BLOCK, false);
    compress(h, buf + (blocks - 1) * BLOCK, BLOCK + n, true);
    for (int i = 0; i < SEAL_NONCE_BYTES; i++)
        nonce[i] = (unsigned char)(h[i / 8] >> (8 * (i % 8)));
    sodium_memzero(buf, blocks * BLOCK);
    sodium_memzero(h, sizeof h);
    return true;
}

void seal_nonce(const struct seal_nonce_key *k, const struct seal_nonce_input *in,
                unsigned char nonce[SEAL_NONCE_BYTES])
{
    if (!k->own || !own_nonce(k, in, nonce))
        seal_nonce_reference(k, in, nonce);
}

/* Whether the own path makes libsodium's nonces: inputs of one, two and
 * four blocks, two ending exactly on a block's end, field and value absent
 * (a zero length here: absent, but for the dataset, record_ref and key). */
static bool own_agrees(const struct seal_nonce_key *k)
{
    static const char fill[300] = "0123456789abcdef";
    static const size_t lens[][SEAL_NONCE_PARTS] = {
        {3, 32, 0, 18, 0},  /* 109 bytes framed: one block */
        {3, 32, 0, 18, 11}, /* 128: one block, full */
        {3, 32, 5, 18, 11}, /* 141: two */
        {7, 32, 9, 18, 18}, /* 156: two */
        {3, 32, 5, 18, 126}, /* 256: two, full */
        {3, 32, 5, 18, 300}, /* 430: four */
    };
    for (size_t c = 0; c < sizeof lens / sizeof lens[0]; c++) {
        struct seal_nonce_input in;
        for (int i = 0; i < SEAL_NONCE_PARTS; i++) {
            in.part[i] = lens[c][i] || i < 2 || i == 3 ? fill : NULL;
            in.len[i] = lens[c][i];
        }
        unsigned char mine[SEAL_NONCE_BYTES], want[SEAL_NONCE_BYTES];
        if (!own_nonce(k, &in, mine))
            return false;
        mine[0] ^= seal_nonce_test_fault ? 1 : 0;
        seal_nonce_reference(k, &in, want);
        if (memcmp(mine, want, sizeof mine) != 0)
            return false;
    }
    return true;
}

void seal_nonce_key_set(struct seal_nonce_key *k, const unsigned char nonce_key[32])
{
    memcpy(k->key, nonce_key, sizeof k->key);
    /* the parameter block: 24 bytes out, a 32-byte key, fanout and depth 1 */
    for (int i = 0; i < 8; i++)
        k->chain[i] = iv[i];
    k->chain[0] ^= (uint64_t)SEAL_NONCE_BYTES | (uint64_t)sizeof k->key << 8 | 1u << 16 | 1u << 24;
    unsigned char block[BLOCK] = {0};
    memcpy(block, nonce_key, sizeof k->key);
    compress(k->chain, block, BLOCK, false); /* never the last: the domain part follows */
    sodium_memzero(block, sizeof block);
    k->own = true;
    k->own = own_agrees(k);
}
