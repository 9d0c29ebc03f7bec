/*
 * sha256.c — SHA-256 (FIPS 180-4), HMAC-SHA-256 (RFC 2104) and hex output.
 *
 * A plain streaming implementation: bytes are gathered into a 64-byte block
 * and each full block is compressed. Words are assembled byte by byte, so the
 * code does not depend on the machine's byte order or on alignment. Used for
 * the audit chain and for the store's keyed record identities (one block per
 * finding: a merge or run with millions of findings spends a tenth of its
 * time here). On x86-64 processors with the SHA extensions the block is
 * compressed with them (compress_ni), chosen once at run time; the result
 * is the same.
 */
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <stdatomic.h>
#include <immintrin.h>
#define QLOOP_SHA_NI 1
#endif

#include "base/sha256.h"

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

/* Rotates x right by n bits (0 < n < 32). */
static uint32_t ror(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

/* Compresses one 64-byte block into the state h. */
static void compress(uint32_t h[8], const uint8_t block[64])
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
               (uint32_t)block[4 * i + 2] << 8 | (uint32_t)block[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t S1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + S1 + ch + K[i] + w[i];
        uint32_t S0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

#ifdef QLOOP_SHA_NI
/* compress with the SHA extensions: the message schedule (sha256msg1/2) and
 * two rounds at a time (sha256rnds2) on the state as ABEF and CDGH. */
__attribute__((target("sha,sse4.1,ssse3"))) static void compress_ni(uint32_t h[8],
                                                                   const uint8_t block[64])
{
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1); /* CDAB */
    __m128i s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B); /* EFGH */
    __m128i s0 = _mm_alignr_epi8(t, s1, 8);    /* ABEF */
    s1 = _mm_blend_epi16(s1, t, 0xF0);         /* CDGH */
    const __m128i abef = s0, cdgh = s1;
    __m128i m[16];
    for (int j = 0; j < 4; j++)
        m[j] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16 * j)), swap);
    for (int j = 4; j < 16; j++)
        m[j] = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(m[j - 4], m[j - 3]),
                                                  _mm_alignr_epi8(m[j - 1], m[j - 2], 4)),
                                    m[j - 1]);
    for (int j = 0; j < 16; j++) {
        __m128i msg = _mm_add_epi32(m[j], _mm_loadu_si128((const __m128i *)&K[4 * j]));
        s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
        s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(msg, 0x0E));
    }
    s0 = _mm_add_epi32(s0, abef);
    s1 = _mm_add_epi32(s1, cdgh);
    t = _mm_shuffle_epi32(s0, 0x1B);  /* FEBA */
    s1 = _mm_shuffle_epi32(s1, 0xB1); /* DCHG */
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(t, s1, 0xF0)); /* ABCD as h[0..3] */
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(s1, t, 8));    /* EFGH as h[4..7] */
}

/* Whether the processor has the SHA extensions (and SSSE3, SSE4.1). */
static int have_sha_ni(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b & bit_SHA) != 0;
}
#endif

/* Compresses one block: with the SHA extensions when the processor has them. */
static void compress_block(uint32_t h[8], const uint8_t block[64])
{
#ifdef QLOOP_SHA_NI
    static _Atomic int known = -1; /* not yet known: threads may each find out, alike */
    int ni = atomic_load_explicit(&known, memory_order_relaxed);
    if (ni < 0) {
        ni = have_sha_ni();
        atomic_store_explicit(&known, ni, memory_order_relaxed);
    }
    if (ni) {
        compress_ni(h, block);
        return;
    }
#endif
    compress(h, block);
}

/* Sets c to the initial state of FIPS 180-4 §5.3.3. */
void qloop_sha256_init(struct qloop_sha256 *c)
{
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, H0, sizeof H0);
    c->nbytes = 0;
    c->used = 0;
    memset(c->block, 0, sizeof c->block);
}

/* Feeds len bytes of data (data may be NULL when len is 0). */
void qloop_sha256_update(struct qloop_sha256 *c, const void *data, size_t len)
{
    if (len == 0)
        return;
    const uint8_t *p = data;
    c->nbytes += len;
    if (c->used > 0) {
        size_t take = 64 - c->used;
        if (take > len)
            take = len;
        memcpy(c->block + c->used, p, take);
        c->used += take;
        p += take;
        len -= take;
        if (c->used < 64)
            return;
        compress_block(c->h, c->block);
        c->used = 0;
    }
    while (len >= 64) {
        compress_block(c->h, p);
        p += 64;
        len -= 64;
    }
    if (len > 0) {
        memcpy(c->block, p, len);
        c->used = len;
    }
}

/* Pads, writes the 32-byte digest to out and wipes c (re-init to reuse). */
void qloop_sha256_final(struct qloop_sha256 *c, uint8_t out[32])
{
    uint64_t bits = c->nbytes * 8;
    c->block[c->used++] = 0x80;
    if (c->used > 56) {
        memset(c->block + c->used, 0, 64 - c->used);
        compress_block(c->h, c->block);
        c->used = 0;
    }
    memset(c->block + c->used, 0, 56 - c->used);
    for (int i = 0; i < 8; i++)
        c->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    compress_block(c->h, c->block);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
    memset(c, 0, sizeof *c);
}

/* One-shot digest of len bytes of data. */
void qloop_sha256(const void *data, size_t len, uint8_t out[32])
{
    struct qloop_sha256 c;
    qloop_sha256_init(&c);
    qloop_sha256_update(&c, data, len);
    qloop_sha256_final(&c, out);
}

/* HMAC-SHA-256 (RFC 2104): a key longer than the 64-byte block is hashed
 * first; shorter keys are zero-padded. */
void qloop_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                       uint8_t out[32])
{
    uint8_t k[64] = {0};
    if (keylen > 64)
        qloop_sha256(key, keylen, k);
    else if (keylen > 0)
        memcpy(k, key, keylen);

    uint8_t pad[64];
    uint8_t inner[32];
    struct qloop_sha256 c;

    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    qloop_sha256_init(&c);
    qloop_sha256_update(&c, pad, 64);
    qloop_sha256_update(&c, data, len);
    qloop_sha256_final(&c, inner);

    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    qloop_sha256_init(&c);
    qloop_sha256_update(&c, pad, 64);
    qloop_sha256_update(&c, inner, 32);
    qloop_sha256_final(&c, out);

    memset(k, 0, sizeof k);
    memset(pad, 0, sizeof pad);
    memset(inner, 0, sizeof inner);
}

/* Writes the lower-case hex of n bytes and a NUL into out (2n+1 bytes). */
void qloop_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

/* 1 + the value of each lower-case hex digit, 0 for any other byte (NUL
 * included): one load a digit (W1 1M night 2's refresh reads 380,000 refs;
 * 560 instructions each with a computed value, 17 a digit). */
static const uint8_t hex_plus1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

bool qloop_unhex128_prefix(const char *hex, uint64_t out[2])
{
    const unsigned char *p = (const unsigned char *)hex;
    uint64_t w[2] = {0, 0};
    for (size_t half = 0; half < 2; half++, p += 16)
        for (size_t i = 0; i < 16; i++) {
            unsigned v = hex_plus1[p[i]];
            if (!v) /* not a digit, or the NUL: nothing read past a short text */
                return false;
            w[half] = w[half] << 4 | (v - 1u);
        }
    out[0] = w[0];
    out[1] = w[1];
    return true;
}

void qloop_hex128(const uint64_t in[2], char out[32])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t half = 0; half < 2; half++) {
        uint64_t w = in[half];
        for (int i = 15; i >= 0; i--, w >>= 4)
            out[16 * half + (size_t)i] = digits[w & 15];
    }
}

bool qloop_unhex128(const char *hex, uint64_t out[2])
{
    uint64_t w[2];
    if (!qloop_unhex128_prefix(hex, w) || hex[32] != '\0')
        return false;
    out[0] = w[0];
    out[1] = w[1];
    return true;
}
