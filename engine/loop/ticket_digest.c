/*
 * ticket_digest.c — the evidence digest of an item or a finding.
 *
 * A finding's or an open item's evidence (row_no, key, value, message,
 * sealed copy: TICKET_EVIDENCE cells) reduced to 64 bits under a key
 * derived from the store's secret (ticket_evidence_digest_key), so that
 * the nightly refresh (ticket_refresh.c) tells an item failing again
 * unchanged from its finding without reading the finding: the findings
 * writer digests each finding it writes and hands the digests to the
 * merge (ticket_seen keys), the refresh's scan digests each open item's
 * evidence the same way, and an item naming a finding keeps that digest in
 * its row (store step 17's digest; the key is the store's). Equal digests
 * say the evidence is the same; the update's comparison, exact, decides
 * over the others. Also here: the cells of a statement's row
 * (tk_cell_at), which the digest reads and ticket_named.c too.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "loop/ticket.h"
#include "loop/ticket_private.h"

/* ---- the evidence digest ------------------------------------------------- */

/* The digest's key: four words derived from the store's secret
 * (ticket_evidence_digest_key), so that a digest kept in an item row
 * (ticket_item_rows.digest, store step 17) compares with one made by
 * another process over the same store. secret_of: the secret it was derived
 * from (keyed: whether one was given). Set by the thread that runs the
 * store's statements before any other thread digests (run_open_results,
 * before the findings writer starts); setting the same secret again writes
 * nothing. */
static uint64_t digest_key[4];
static unsigned char secret_of[32];
static bool keyed;

/* The KDF's context for this key (crypto_kdf: 8 bytes) and subkey id: a
 * label of its own, so the key says nothing of the secret or of its other
 * uses (record_ref hashes). */
static const char digest_context[crypto_kdf_CONTEXTBYTES + 1] = "qlevdgst";
enum { DIGEST_SUBKEY_ID = 1 };
_Static_assert(crypto_kdf_KEYBYTES == 32, "the store's secret is a KDF key");

void ticket_evidence_digest_key(const unsigned char secret[32])
{
    if (keyed && memcmp(secret, secret_of, sizeof secret_of) == 0)
        return;
    unsigned char k[sizeof digest_key];
    crypto_kdf_derive_from_key(k, sizeof k, DIGEST_SUBKEY_ID, digest_context, secret);
    for (int i = 0; i < 4; i++) {
        uint64_t w = 0;
        for (int b = 7; b >= 0; b--)
            w = w << 8 | k[8 * i + b];
        digest_key[i] = w;
    }
    sodium_memzero(k, sizeof k);
    memcpy(secret_of, secret, sizeof secret_of);
    keyed = true;
}

/* The high and low halves of a * b folded (wyhash's mixing step). */
static uint64_t mum(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* A digest being made: words taken two at a time. */
struct digest {
    uint64_t h, held, words;
    bool holding;
};

static void digest_word(struct digest *d, uint64_t w)
{
    d->words++;
    if (!d->holding) {
        d->held = w;
        d->holding = true;
        return;
    }
    d->h = mum(d->held ^ d->h ^ digest_key[0], w ^ digest_key[1]);
    d->holding = false;
}

/* The n (1..7) bytes at p as a little-endian word, without a memcpy call
 * of variable length (a call per finding and per item was most of a short
 * text's cost). */
static inline uint64_t digest_tail(const unsigned char *p, size_t n)
{
    uint64_t w = 0;
    size_t at = 0;
    if (n & 4) {
        w = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
        at = 4;
    }
    if (n & 2) {
        w |= ((uint64_t)p[at] | (uint64_t)p[at + 1] << 8) << (8 * at);
        at += 2;
    }
    if (n & 1)
        w |= (uint64_t)p[at] << (8 * at);
    return w;
}

/* The 8 bytes at p as a word, in the host's order as digest_bytes has
 * always read them (on a little-endian host digest_tail's words are the
 * same as the short memcpy of before, so the digests are too). A digest an
 * item keeps (store step 17) that was made on a host of the other order
 * only fails to match: the refresh then compares the evidence itself. */
static inline uint64_t digest_load(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Feeds p[0..len) as words of 8 bytes, the last one short and zero-filled:
 * the same words, and so the same digest, as one digest_word each, but
 * whole pairs are folded without the holding state's branch. */
static void digest_bytes(struct digest *d, const unsigned char *p, size_t len)
{
    size_t i = 0;
    if (d->holding && len >= 8) { /* a pair to complete first */
        digest_word(d, digest_load(p));
        i = 8;
    }
    if (!d->holding) {
        uint64_t h = d->h, k0 = digest_key[0], k1 = digest_key[1];
        size_t from = i;
        for (; i + 16 <= len; i += 16)
            h = mum(digest_load(p + i) ^ h ^ k0, digest_load(p + i + 8) ^ k1);
        d->h = h;
        d->words += (i - from) / 8;
    }
    if (i + 8 <= len) {
        digest_word(d, digest_load(p + i));
        i += 8;
    }
    if (i < len)
        digest_word(d, digest_tail(p + i, len - i));
}

uint64_t ticket_evidence_digest(const struct ticket_cell c[TICKET_EVIDENCE], bool finding)
{
    /* a finding's is 0 too where the `ticket_items` view would show NULL
     * for what it stores ('' key or message, empty sealed copy), so that a
     * nonzero one is also the digest its item keeps (ticket_sync.c) */
    if (finding && (c[1].type == SQLITE_NULL || c[3].type == SQLITE_NULL ||
                    (c[1].type == SQLITE_TEXT && !c[1].len) ||
                    (c[3].type == SQLITE_TEXT && !c[3].len) ||
                    ((c[4].type == SQLITE_TEXT || c[4].type == SQLITE_BLOB) && !c[4].len)))
        return 0;
    struct digest d = {.h = digest_key[2]};
    for (int i = 0; i < TICKET_EVIDENCE; i++) {
        bool bytes = c[i].type == SQLITE_TEXT || c[i].type == SQLITE_BLOB;
        digest_word(&d, (uint64_t)c[i].type << 56 | (bytes ? (uint64_t)c[i].len : 0));
        if (c[i].type == SQLITE_INTEGER)
            digest_word(&d, (uint64_t)c[i].i);
        else if (bytes && c[i].len)
            digest_bytes(&d, c[i].p, c[i].len);
    }
    if (d.holding)
        digest_word(&d, 0);
    uint64_t h = mum(d.h ^ digest_key[3], d.words ^ digest_key[0]);
    return h ? h : 1;
}


/* Column col of st's current row as a cell (ticket_private.h). Looked up once, then read
 * through its value: what sqlite3_column_type, _text, _blob and _bytes each
 * do after their own look-up (and error check), so the same cells; the
 * refresh's scan reads every open item this way (W1 1M night 2: 180,000).
 * The value is unprotected, which only matters to a connection shared
 * between threads: st and its connection are this thread's. */
struct ticket_cell tk_cell_at(sqlite3_stmt *st, int col)
{
    sqlite3_value *v = sqlite3_column_value(st, col);
    struct ticket_cell c = {.type = sqlite3_value_type(v)};
    if (c.type == SQLITE_INTEGER) {
        c.i = sqlite3_value_int64(v);
    } else if (c.type == SQLITE_TEXT) {
        c.p = sqlite3_value_text(v);
        c.len = (size_t)sqlite3_value_bytes(v);
    } else if (c.type == SQLITE_BLOB) {
        c.p = sqlite3_value_blob(v);
        c.len = (size_t)sqlite3_value_bytes(v);
    }
    return c;
}

uint64_t ticket_evidence_digest_row(sqlite3_stmt *st, int col, bool finding)
{
    struct ticket_cell c[TICKET_EVIDENCE];
    for (int i = 0; i < TICKET_EVIDENCE; i++)
        c[i] = tk_cell_at(st, col + i);
    return ticket_evidence_digest(c, finding);
}
