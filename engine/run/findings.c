/*
 * findings.c — the one findings writer (see run/findings.h).
 *
 * findings_encode is four named steps, in order: record_ref, the key and
 * value shown (with what masking hid sealed, so the owner department can see
 * its record), the masked message, the part; the result is appended to a
 * buffer as one encoded finding (struct findings_enc_head and its bytes), with the
 * digest of its evidence for the ticket phase (made there, on the encoding
 * thread, not in the run's serial flush).
 * findings_write encodes with the writer's own encoder and spools the bytes
 * (stage.h); findings_flush gives the flush's kinds their store numbers (in
 * the order they first came to the spool), reads the spool back and inserts
 * the findings into finding_rows, 32 rows to a prepared INSERT (the run
 * bound once per statement), and their keys into finding_refs, sorted
 * (run/findings_refs.c) — collected and sorted by a thread of their own
 * while the rows go in, when the flush is large (run/findings_keys.h).
 * Buffers live in the encoder and are reused.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/strmap.h"
#include "checks/mask.h"
#include "identity/seal.h"
#include "loop/ticket.h"
#include "run/findings.h"
#include "run/findings_enc.h"
#include "run/findings_keys.h"
#include "run/findings_refs.h"
#include "run/stage.h"
#include "store/sql.h"
#include "store/store.h"

/* Findings stored by one INSERT: a statement's start and end (its
 * cursors opened, the table's last row sought, the statement closed) are
 * shared by this many rows instead of paid by each. */
enum { BATCH = 32 };

struct kind {
    char *dataset, *rule, *field;
    int64_t store_id; /* its finding_kinds id, once flushed */
};

/* The parts of one dataset of a partitioned run (findings_writer_parts). */
struct parts {
    char *dataset;
    size_t n;
    uint64_t *offsets;
};

struct findings_encoder {
    const struct findings_writer *w; /* NULL: findings_show only */
    const struct pack *p;
    /* the dataset of the last finding, and whether a key field of it is sensitive */
    const struct pack_dataset *d;
    bool key_sensitive;
    struct qloop_buf key, value, msg, sealed, masked, part;
    struct mask_value *quoted; /* the sensitive values a message may quote */
    size_t quoted_cap;
};

struct findings_writer {
    sqlite3 *db;
    char run_id[64];
    const struct pack *p;
    const unsigned char *secret;
    struct ident_sealer sealer;
    struct parts *parts;
    size_t nparts;
    struct findings_encoder *own; /* findings_write's */
    struct qloop_buf one;         /* one encoded finding of findings_write */
    struct stage_spool *spool;
    struct strmap *kind_of; /* "dataset\0rule\0" + "F" field or "N" -> kind */
    struct kind *kinds;     /* kind k is kinds[k - 1] */
    size_t nkinds;
    struct qloop_buf name;
    uint32_t last_kind; /* findings_kind's last answer: findings come in runs of a kind */
    /* findings_flush */
    int64_t run_num;
    sqlite3_stmt *ins;      /* one finding_rows row */
    sqlite3_stmt *ins_many; /* BATCH rows */
    struct qloop_buf batch; /* up to BATCH encoded findings, whole, waiting for ins_many */
    size_t nbatch;
    int64_t batch_kind[BATCH]; /* their store kinds */
    struct findings_enc_walk walk; /* the spool's pieces into whole findings */
    struct findings_refs *refs; /* the flush's keys for finding_refs */
    struct findings_keys *keys; /* the thread collecting them, during a large flush */
    bool no_keys_aside;         /* findings_writer_keys_aside(w, false) */
    bool hold_refs;  /* findings_hold_refs: a flush leaves its keys collected */
    bool refs_held;  /* keys of held flushes collected, not yet written */
    struct qloop_error *flush_err;
    uint64_t pending; /* findings spooled since the last flush */
    /* the kinds of those findings, in the order they first come (so the
     * flush can give them their store numbers before it stores any: the
     * numbers it would give them one by one), and which are listed */
    uint32_t *flush_kinds;
    size_t nflush_kinds, flush_kinds_cap;
    unsigned char *listed; /* listed[k]: kind k is in flush_kinds (listed_cap) */
    size_t listed_cap;
};

struct findings_writer *findings_writer_new(sqlite3 *db, const char *run_id, const struct pack *p,
                                            struct qloop_error *err)
{
    struct findings_writer *w = qloop_xcalloc(1, sizeof *w);
    if (ident_sealer_open(db, &w->sealer, err) != 0) {
        free(w);
        return NULL;
    }
    w->db = db;
    snprintf(w->run_id, sizeof w->run_id, "%s", run_id);
    w->p = p;
    w->secret = store_secret(db);
    /* the digests made as findings are encoded (on the workers too) are
     * the store's: keyed here, before any encoder exists */
    if (w->secret)
        ticket_evidence_digest_key(w->secret);
    w->spool = stage_spool_new();
    w->kind_of = strmap_new();
    w->own = findings_encoder_new(w);
    w->refs = findings_refs_new();
    return w;
}

void findings_writer_free(struct findings_writer *w)
{
    if (!w)
        return;
    findings_encoder_free(w->own);
    qloop_buf_free(&w->one);
    stage_spool_free(w->spool);
    strmap_free(w->kind_of);
    for (size_t i = 0; i < w->nkinds; i++) {
        free(w->kinds[i].dataset);
        free(w->kinds[i].rule);
        free(w->kinds[i].field);
    }
    free(w->kinds);
    qloop_buf_free(&w->name);
    sqlite3_finalize(w->ins);
    sqlite3_finalize(w->ins_many);
    qloop_buf_free(&w->batch);
    qloop_buf_free(&w->walk.carry);
    free(w->flush_kinds);
    free(w->listed);
    findings_refs_free(w->refs);
    ident_sealer_close(&w->sealer);
    for (size_t i = 0; i < w->nparts; i++) {
        free(w->parts[i].dataset);
        free(w->parts[i].offsets);
    }
    free(w->parts);
    free(w);
}

struct findings_encoder *findings_encoder_new(struct findings_writer *w)
{
    struct findings_encoder *e = qloop_xcalloc(1, sizeof *e);
    e->w = w;
    e->p = w->p;
    return e;
}

struct findings_encoder *findings_encoder_show(const struct pack *p)
{
    struct findings_encoder *e = qloop_xcalloc(1, sizeof *e);
    e->p = p;
    return e;
}

void findings_encoder_free(struct findings_encoder *e)
{
    if (!e)
        return;
    qloop_buf_free(&e->key);
    qloop_buf_free(&e->value);
    qloop_buf_free(&e->msg);
    qloop_buf_free(&e->sealed);
    qloop_buf_free(&e->masked);
    qloop_buf_free(&e->part);
    free(e->quoted);
    free(e);
}

uint32_t findings_kind(struct findings_writer *w, const char *dataset, const char *rule,
                       const char *field)
{
    const struct kind *last = w->last_kind ? &w->kinds[w->last_kind - 1] : NULL;
    if (last && strcmp(last->rule, rule) == 0 && strcmp(last->dataset, dataset) == 0 &&
        (field ? last->field && strcmp(last->field, field) == 0 : !last->field))
        return w->last_kind;
    struct qloop_buf *n = &w->name;
    qloop_buf_reset(n);
    qloop_buf_append(n, dataset, strlen(dataset) + 1);
    qloop_buf_append(n, rule, strlen(rule) + 1);
    qloop_buf_putc(n, field ? 'F' : 'N');
    if (field)
        qloop_buf_append(n, field, strlen(field));
    uint64_t *k = strmap_put(w->kind_of, n->ptr, n->len, NULL);
    if (!*k) {
        w->kinds = qloop_xrealloc(w->kinds, (w->nkinds + 1) * sizeof *w->kinds);
        w->kinds[w->nkinds++] = (struct kind){qloop_xstrdup(dataset), qloop_xstrdup(rule),
                                              field ? qloop_xstrdup(field) : NULL, 0};
        *k = w->nkinds;
    }
    w->last_kind = (uint32_t)*k;
    return (uint32_t)*k;
}

void findings_writer_parts(struct findings_writer *w, const char *dataset, size_t nparts,
                           const uint64_t *offsets)
{
    struct parts *p = NULL;
    for (size_t i = 0; !p && i < w->nparts; i++)
        if (strcmp(w->parts[i].dataset, dataset) == 0)
            p = &w->parts[i];
    if (p) {
        free(p->offsets);
    } else {
        w->parts = qloop_xrealloc(w->parts, (w->nparts + 1) * sizeof *w->parts);
        p = &w->parts[w->nparts++];
        p->dataset = qloop_xstrdup(dataset);
    }
    p->n = nparts;
    p->offsets = qloop_xcalloc(nparts + 1, sizeof *p->offsets);
    memcpy(p->offsets, offsets, nparts * sizeof *offsets);
}

/* Splits row_no of dataset into its part (0-based, into *part; -1 when the
 * dataset is read whole) and its row within the part (returned). */
static uint64_t part_row(const struct findings_writer *w, const char *dataset, uint64_t row_no,
                         long *part)
{
    *part = -1;
    const struct parts *p = NULL;
    for (size_t i = 0; !p && i < w->nparts; i++)
        if (strcmp(w->parts[i].dataset, dataset) == 0)
            p = &w->parts[i];
    if (!p || row_no == 0 || p->n == 0)
        return row_no;
    size_t lo = 0, hi = p->n; /* the last part whose first row is at or before row_no */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->offsets[mid] < row_no)
            lo = mid;
        else
            hi = mid;
    }
    *part = (long)lo;
    return row_no - p->offsets[lo];
}

/* "I/N" of a 0-based part into out. */
static void part_name(const struct findings_writer *w, const char *dataset, long part,
                      struct qloop_buf *out)
{
    size_t n = 0;
    for (size_t i = 0; i < w->nparts; i++)
        if (strcmp(w->parts[i].dataset, dataset) == 0)
            n = w->parts[i].n;
    findings_append_uint(out, (uint64_t)part + 1);
    qloop_buf_putc(out, '/');
    findings_append_uint(out, n);
}

void findings_append_row(const struct findings_writer *w, struct qloop_buf *out,
                         const char *dataset, uint64_t row_no)
{
    long part;
    uint64_t row = part_row(w, dataset, row_no, &part);
    if (part >= 0) {
        qloop_buf_append(out, "第 ", strlen("第 "));
        part_name(w, dataset, part, out);
        qloop_buf_append(out, " 部分", strlen(" 部分"));
    }
    qloop_buf_append(out, "数据第 ", strlen("数据第 "));
    findings_append_uint(out, row);
    qloop_buf_append(out, " 行（不计表头）", strlen(" 行（不计表头）"));
}

void findings_mask_key(const char *key, size_t len, struct qloop_buf *out)
{
    mask_sensitive(key, len, out);
}

/* Makes name the current dataset (e->d, NULL when the pack lacks it). */
static void use_dataset(struct findings_encoder *e, const char *name)
{
    if (e->d && strcmp(e->d->name, name) == 0)
        return;
    e->d = pack_find_dataset(e->p, name);
    e->key_sensitive = false;
    for (size_t i = 0; e->d && i < e->d->nkeys; i++)
        e->key_sensitive |= pack_is_sensitive(e->d, e->d->keys[i]);
}

/* s[0..len), masked into buf when sensitive. */
static const char *shown(const char *s, size_t len, bool sensitive, struct qloop_buf *buf,
                         size_t *outlen)
{
    if (!sensitive) {
        *outlen = len;
        return s;
    }
    qloop_buf_reset(buf);
    mask_sensitive(s, len, buf);
    *outlen = buf->len;
    return qloop_buf_str(buf);
}

static void append(struct qloop_buf *b, const char *s)
{
    qloop_buf_append(b, s, strlen(s));
}

/* The message of pack rule id, or id itself when the pack has no such rule. */
static const char *rule_message(const struct pack *p, const char *id)
{
    for (size_t i = 0; i < p->nrules; i++)
        if (strcmp(p->rules[i].id, id) == 0)
            return p->rules[i].message;
    return id;
}

/* The message of f as composed (masked_message masks it). Every finding's
 * text passes here and only here. */
static const char *findings_message(struct findings_encoder *e, const struct qloop_finding *f,
                                    const struct finding_extra *x)
{
    if (f->message)
        return f->message;
    const char *message = x && x->rule_message ? x->rule_message : rule_message(e->p, f->rule);
    const char *reason = x && x->reason && *x->reason ? x->reason : NULL;
    if (!reason || (!x->message_default && strcmp(reason, message) == 0))
        return message;
    qloop_buf_reset(&e->msg);
    if (!x->message_default) {
        append(&e->msg, message);
        append(&e->msg, "：");
    } else if (f->field) {
        append(&e->msg, f->field);
        append(&e->msg, "：");
    }
    append(&e->msg, reason);
    return qloop_buf_str(&e->msg);
}

/* The length of the part of raw key that identifies the record: all of it,
 * or for a record without a key ("\0" IDENTITY "\0" SHOWN, identity.c) the
 * part before the second NUL. */
static size_t identity_len(const char *key, size_t keylen)
{
    if (keylen == 0 || key[0] != '\0')
        return keylen;
    const char *end = memchr(key + 1, '\0', keylen - 1);
    return end ? (size_t)(end - key) : keylen;
}

void findings_record_ref(const unsigned char secret[32], const char *dataset, const char *key,
                         size_t keylen, char out[33])
{
    store_record_ref_keyed(secret, dataset, key, identity_len(key, keylen), out);
}

/* The message of f with the personal data in it masked (mask_text): by
 * shape, and wherever it quotes the raw key or value (when they are masked;
 * NULL otherwise) or one of the finder's values. */
static const char *masked_message(struct findings_encoder *e, const struct qloop_finding *f,
                                  const struct finding_extra *x, const char *key, size_t keylen,
                                  const char *value, size_t vlen)
{
    const char *message = findings_message(e, f, x);
    if (!message)
        return NULL;
    size_t n = x ? x->nvalues : 0;
    if (n + 2 > e->quoted_cap) {
        e->quoted_cap = n + 2;
        e->quoted = qloop_xrealloc(e->quoted, e->quoted_cap * sizeof *e->quoted);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        e->quoted[k++] = x->values[i];
    if (key)
        e->quoted[k++] = (struct mask_value){key, keylen};
    if (value)
        e->quoted[k++] = (struct mask_value){value, vlen};
    qloop_buf_reset(&e->masked);
    if (mask_text(message, strlen(message), e->quoted, k, &e->masked) == 0)
        return message;
    return qloop_buf_str(&e->masked);
}

/* The raw key's part that shows: all of it, or for a record without a key
 * the row it is shown by ("#ROW", after the identity and its NUL). */
static const char *plain_key_of(const struct qloop_finding *f, size_t *len)
{
    if (!f->key) {
        *len = 0;
        return "";
    }
    const char *raw_key = f->key;
    size_t idlen = identity_len(raw_key, f->keylen);
    if (idlen < f->keylen) {
        *len = f->keylen - idlen - 1;
        return raw_key + idlen + 1;
    }
    *len = f->keylen;
    return raw_key;
}

void findings_show(struct findings_encoder *e, const struct qloop_finding *f,
                   const struct finding_extra *x, struct finding_shown *s)
{
    unsigned mask = x ? x->mask : 0;
    bool of_record = f->row_no != 0;
    use_dataset(e, f->dataset);
    *s = (struct finding_shown){0};

    /* A record without a key is shown by its data row ("#ROW"), nothing
     * personal; a key, masked when sensitive (a malformed row's key is its
     * row number: FINDING_KEY_ROW). */
    size_t plain_len;
    const char *plain_key = plain_key_of(f, &plain_len);
    bool keyless = plain_len < f->keylen;
    s->key_masked = !keyless && ((mask & FINDING_MASK_KEY) ||
                                 (of_record && e->key_sensitive && !(mask & FINDING_KEY_ROW)));
    s->key = shown(plain_key, plain_len, s->key_masked, &e->key, &s->keylen);

    s->value_masked = f->value && ((mask & FINDING_MASK_VALUE) ||
                                   (of_record && pack_is_sensitive(e->d, f->field)));
    if (f->value)
        s->value = shown(f->value, f->vlen, s->value_masked, &e->value, &s->vlen);

    s->message = masked_message(e, f, x, s->key_masked ? plain_key : NULL, plain_len,
                                s->value_masked ? f->value : NULL, f->vlen);
    s->mlen = s->message ? strlen(s->message) : 0;
    s->rule_message = !f->message && s->message &&
                      s->message == (x && x->rule_message ? x->rule_message
                                                          : rule_message(e->p, f->rule));
}

/* The evidence digest (ticket_evidence_digest) of a finding encoded with
 * row_no and pieces piece[0..F_COUNT) of plen bytes (NULL: SQL NULL): its
 * row_no, key, value, message and sealed copy as bind_row binds them and so
 * as they are stored (finding_rows' affinities keep each type). */
static uint64_t evidence_digest(uint64_t row_no, const void *const piece[F_COUNT],
                                const size_t plen[F_COUNT])
{
    struct ticket_cell c[TICKET_EVIDENCE] = {
        {.type = row_no ? SQLITE_INTEGER : SQLITE_NULL, .i = (int64_t)row_no}};
    for (int i = 0; i <= F_SEALED; i++)
        c[1 + i] = piece[i] ? (struct ticket_cell){.type = i == F_SEALED ? SQLITE_BLOB : SQLITE_TEXT,
                                                   .p = piece[i], .len = plen[i]}
                            : (struct ticket_cell){.type = SQLITE_NULL};
    return ticket_evidence_digest(c, true);
}

void findings_encode_shown(struct findings_encoder *e, uint32_t kind,
                           const struct qloop_finding *f, const struct finding_shown *s,
                           struct qloop_buf *out)
{
    const struct findings_writer *w = e->w;
    struct findings_enc_head h = {.kind = kind};
    size_t plain_len;
    const char *plain_key = plain_key_of(f, &plain_len);
    char ref[33];
    if (s->ref) {
        memcpy(ref, s->ref, sizeof h.ref);
        ref[32] = '\0';
    } else {
        findings_record_ref(w->secret, f->dataset, f->key ? f->key : "", f->keylen, ref);
    }
    memcpy(h.ref, ref, sizeof h.ref);

    /* shown as it is unless masked (a record without a key: by its row) */
    const char *key = s->key_masked ? s->key : plain_key;
    size_t keylen = s->key_masked ? s->keylen : plain_len;
    bool value_masked = f->value && s->value_masked;
    const char *value = value_masked ? s->value : f->value;
    size_t vlen = value_masked ? s->vlen : f->vlen;

    /* What masking hid, sealed for the owner (only then: nothing to hide,
     * nothing to seal). The sealer may be used by several threads at once. */
    bool sealed = s->key_masked || value_masked;
    const void *sealed_p = NULL;
    size_t sealed_n = 0;
    if (sealed && s->sealed) { /* known already (deterministic: seal.h) */
        sealed_p = s->sealed;
        sealed_n = s->sealed_len;
    } else if (sealed) {
        struct ident_record r = {plain_key, plain_len, f->value, f->vlen};
        ident_seal(&w->sealer, f->dataset, ref, f->field, &r, &e->sealed);
        sealed_p = e->sealed.ptr;
        sealed_n = e->sealed.len;
    }

    long part = -1;
    h.row_no = w->nparts ? part_row(w, f->dataset, f->row_no, &part) : f->row_no;
    if (part >= 0) {
        qloop_buf_reset(&e->part);
        part_name(w, f->dataset, part, &e->part);
    }

    const void *piece[F_COUNT] = {key, value, s->message, sealed ? sealed_p : NULL,
                                  part >= 0 ? e->part.ptr : NULL};
    size_t plen[F_COUNT] = {keylen, vlen, s->mlen, sealed ? sealed_n : 0,
                            part >= 0 ? e->part.len : 0};
    size_t size = sizeof h;
    for (int i = 0; i < F_COUNT; i++) {
        h.len[i] = piece[i] ? (uint32_t)plen[i] : FINDINGS_ENC_NULL;
        size += piece[i] ? plen[i] : 0;
    }
    h.size = (uint32_t)size;
    h.digest = evidence_digest(h.row_no, piece, plen);
    qloop_buf_reserve(out, size);
    memcpy(out->ptr + out->len, &h, sizeof h);
    size_t at = out->len + sizeof h;
    for (int i = 0; i < F_COUNT; i++)
        if (piece[i] && plen[i]) {
            memcpy(out->ptr + at, piece[i], plen[i]);
            at += plen[i];
        }
    out->len = at;
    out->ptr[out->len] = '\0';
}

void findings_encode(struct findings_encoder *e, uint32_t kind, const struct qloop_finding *f,
                     const struct finding_extra *x, struct qloop_buf *out)
{
    struct finding_shown s;
    findings_show(e, f, x, &s);
    findings_encode_shown(e, kind, f, &s, out);
}

/* Lists kind k among the flush's kinds unless it is; a kind the writer
 * never made is not listed (the flush finds the finding corrupt). */
static void list_kind(struct findings_writer *w, uint32_t k)
{
    if (k == 0 || k > w->nkinds || (k < w->listed_cap && w->listed[k]))
        return;
    if (k >= w->listed_cap) {
        size_t cap = w->nkinds + 1 > 2 * w->listed_cap ? w->nkinds + 1 : 2 * w->listed_cap;
        w->listed = qloop_xrealloc(w->listed, cap);
        memset(w->listed + w->listed_cap, 0, cap - w->listed_cap);
        w->listed_cap = cap;
    }
    if (w->nflush_kinds == w->flush_kinds_cap) {
        w->flush_kinds_cap = w->flush_kinds_cap ? 2 * w->flush_kinds_cap : 16;
        w->flush_kinds = qloop_xrealloc(w->flush_kinds, w->flush_kinds_cap * sizeof *w->flush_kinds);
    }
    w->flush_kinds[w->nflush_kinds++] = k;
    w->listed[k] = 1;
}

/* The kind of encoded finding p (whole head). */
static uint32_t enc_kind(const char *p)
{
    uint32_t kind;
    memcpy(&kind, p + offsetof(struct findings_enc_head, kind), sizeof kind);
    return kind;
}

int findings_append(struct findings_writer *w, const void *encoded, size_t len,
                    struct qloop_error *err)
{
    /* counted, and any kind not listed yet noted (no call in the loop: a
     * kind comes new a few times a run, the loop runs for every finding) */
    const char *p = encoded, *end = p + len;
    uint64_t n = 0;
    bool unlisted = false;
    while (end - p >= (ptrdiff_t)sizeof(struct findings_enc_head)) {
        uint32_t size = findings_enc_size(p);
        if (size < sizeof(struct findings_enc_head))
            break; /* corrupt: findings_flush says so */
        uint32_t kind = enc_kind(p);
        unlisted |= kind >= w->listed_cap || !w->listed[kind];
        n++;
        p += size;
    }
    w->pending += n;
    for (const char *q = encoded; unlisted && q < p; q += findings_enc_size(q))
        list_kind(w, enc_kind(q)); /* in the order they come */
    return stage_spool_append(w->spool, encoded, len, err);
}

bool findings_encoded_sealed(const void *enc, size_t n, const void **sealed, size_t *len)
{
    struct findings_enc_head h;
    if (n < sizeof h)
        return false;
    memcpy(&h, enc, sizeof h);
    if (h.size != n || h.len[F_SEALED] == FINDINGS_ENC_NULL)
        return false;
    size_t at = sizeof h;
    for (int i = 0; i < F_SEALED; i++)
        at += h.len[i] == FINDINGS_ENC_NULL ? 0 : h.len[i];
    if (at > n || n - at < h.len[F_SEALED])
        return false;
    *sealed = (const char *)enc + at;
    *len = h.len[F_SEALED];
    return true;
}

bool findings_encoded_digest(const void *enc, size_t n, uint64_t *digest)
{
    struct findings_enc_head h;
    if (n < sizeof h)
        return false;
    memcpy(&h, enc, sizeof h);
    if (h.size != n)
        return false;
    *digest = h.digest;
    return true;
}

int findings_write_shown(struct findings_writer *w, const struct qloop_finding *f,
                         const struct finding_shown *s, struct qloop_error *err)
{
    uint32_t kind = findings_kind(w, f->dataset, f->rule, f->field);
    qloop_buf_reset(&w->one);
    findings_encode_shown(w->own, kind, f, s, &w->one);
    return findings_append(w, w->one.ptr, w->one.len, err);
}

int findings_write(struct findings_writer *w, const struct qloop_finding *f,
                   const struct finding_extra *x, struct qloop_error *err)
{
    struct finding_shown s;
    findings_show(w->own, f, x, &s); /* into w->own's buffers, which encoding leaves alone */
    return findings_write_shown(w, f, &s, err);
}

/* ---- into the store ---- */

/* The store's number of local kind k, made on first use. 0 or -1. */
static int store_kind(struct findings_writer *w, uint32_t k, int64_t *id, struct qloop_error *err)
{
    struct kind *kd = &w->kinds[k - 1];
    if (kd->store_id) {
        *id = kd->store_id;
        return 0;
    }
    const char *const t[] = {kd->dataset, kd->rule, kd->field};
    if (sql_int64_texts(w->db,
                        "SELECT id FROM finding_kinds WHERE dataset = ?1 AND rule = ?2"
                        " AND field IS ?3 ORDER BY id LIMIT 1",
                        3, t, 0, &kd->store_id, err) != 0)
        return -1;
    if (!kd->store_id) {
        if (sql_exec_texts(w->db, "INSERT INTO finding_kinds(dataset, rule, field) VALUES(?1, ?2, ?3)",
                           "写入问题记录", err, 3, t) != 0)
            return -1;
        kd->store_id = sqlite3_last_insert_rowid(w->db);
    }
    *id = kd->store_id;
    return 0;
}

/* Binds encoded finding p (whole) of store kind `kind` to parameters
 * first + 1 .. first + 8 of st; parameter first, the run, stays bound from
 * prepare_inserts (bindings outlive sqlite3_reset). */
static void bind_row(sqlite3_stmt *st, int first, const char *p, int64_t kind)
{
    struct findings_enc_head h;
    memcpy(&h, p, sizeof h);
    sqlite3_bind_int64(st, first + 1, kind);
    if (h.row_no)
        sqlite3_bind_int64(st, first + 2, (sqlite3_int64)h.row_no);
    else
        sqlite3_bind_null(st, first + 2);
    sqlite3_bind_text(st, first + 3, p + offsetof(struct findings_enc_head, ref), sizeof h.ref,
                      SQLITE_STATIC);
    const char *at = p + sizeof h;
    for (int i = 0; i < F_COUNT; i++) {
        if (h.len[i] == FINDINGS_ENC_NULL)
            sqlite3_bind_null(st, first + 4 + i);
        else if (i == F_SEALED)
            sqlite3_bind_blob(st, first + 4 + i, at, (int)h.len[i], SQLITE_STATIC);
        else
            sqlite3_bind_text(st, first + 4 + i, at, (int)h.len[i], SQLITE_STATIC);
        at += h.len[i] == FINDINGS_ENC_NULL ? 0 : h.len[i];
    }
}

/* Runs st, bound, once: n findings stored, their ids told to w->refs.
 * 0 or -1. */
static int run_insert(struct findings_writer *w, sqlite3_stmt *st, size_t n,
                      struct qloop_error *err)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_error(w->db, "写入问题记录", err);
    sqlite3_reset(st);
    return rc == 0 ? findings_refs_stored(w->refs, w->db, n, err) : -1;
}

/* Inserts the batched findings, in the order batched: BATCH of them by one
 * statement, fewer one by one. 0 or -1; the batch is emptied either way. */
static int insert_batch(struct findings_writer *w, struct qloop_error *err)
{
    int rc = 0;
    const char *p = w->batch.ptr;
    if (w->nbatch == BATCH) {
        for (size_t i = 0; i < BATCH; i++) {
            bind_row(w->ins_many, 1 + 9 * (int)i, p, w->batch_kind[i]);
            p += findings_enc_size(p);
        }
        rc = run_insert(w, w->ins_many, BATCH, err);
    } else {
        for (size_t i = 0; rc == 0 && i < w->nbatch; i++) {
            bind_row(w->ins, 1, p, w->batch_kind[i]);
            rc = run_insert(w, w->ins, 1, err);
            p += findings_enc_size(p);
        }
    }
    qloop_buf_reset(&w->batch);
    w->nbatch = 0;
    return rc;
}

/* findings_enc_walk's one: adds encoded finding p (whole) to the batch,
 * inserting the batch when it is full, and its key to the flush's unless
 * a thread collects them (w->keys). 0 or -1 with w->flush_err. */
static int insert_one(void *ctx, const char *p)
{
    struct findings_writer *w = ctx;
    struct qloop_error *err = w->flush_err;
    struct findings_enc_head h;
    memcpy(&h, p, sizeof h);
    if (h.kind == 0 || h.kind > w->nkinds)
        return qloop_error_internal(err, NULL, "暂存的问题记录已损坏（类别 %u）", h.kind);
    int64_t kind;
    if (store_kind(w, h.kind, &kind, err) != 0)
        return -1;
    qloop_buf_append(&w->batch, p, h.size);
    w->batch_kind[w->nbatch++] = kind;
    if (!w->keys)
        findings_refs_add(w->refs, kind, p + offsetof(struct findings_enc_head, ref), h.digest);
    return w->nbatch == BATCH ? insert_batch(w, err) : 0;
}

/* stage_spool_drain's reader: inserts every whole encoded finding of the
 * piece, keeping one split between two pieces in w->walk. */
static int insert_piece(void *ctx, const void *piece, size_t n)
{
    struct findings_writer *w = ctx;
    return findings_enc_walk(&w->walk, piece, n, insert_one, w, w->flush_err);
}

/* Gives the flush's kinds their store numbers, in the order they first
 * come in the spool, and empties the list. 0 or -1. */
static int store_kinds(struct findings_writer *w, struct qloop_error *err)
{
    int rc = 0;
    int64_t id;
    for (size_t i = 0; rc == 0 && i < w->nflush_kinds; i++)
        rc = store_kind(w, w->flush_kinds[i], &id, err);
    for (size_t i = 0; i < w->nflush_kinds; i++)
        w->listed[w->flush_kinds[i]] = 0;
    w->nflush_kinds = 0;
    return rc;
}

/* Starts a thread collecting this flush's keys (findings_keys.h) when the
 * flush is large and its keys are written at its end (not held); w->keys
 * stays NULL when not. */
static void keys_aside(struct findings_writer *w)
{
    if (w->no_keys_aside || w->pending < FINDINGS_KEYS_ASIDE_MIN || w->hold_refs || w->refs_held)
        return;
    struct stage_spool_view *view = stage_spool_view(w->spool);
    if (!view)
        return;
    int64_t *kind_of = qloop_xcalloc(w->nkinds + 1, sizeof *kind_of);
    for (size_t k = 1; k <= w->nkinds; k++)
        kind_of[k] = w->kinds[k - 1].store_id;
    w->keys = findings_keys_start(w->refs, view, kind_of, w->nkinds);
    free(kind_of);
}

/* Prepares the writer's INSERTs of one row and of BATCH rows, each row's
 * run bound once for all (w->run_num, known by then). 0 or -1.
 * OR FAIL: an INSERT of many rows that may abort halfway makes SQLite keep
 * a statement journal (a temporary file holding every page the statement
 * touches, to undo its earlier rows), which cost more than the rows it
 * batched; with FAIL nothing is undone, and nothing needs to be: a failing
 * move fails the run, whose transaction is rolled back whole. (finding_rows
 * has no constraint an insert here can break; a trigger that aborts still
 * undoes its own statement.) */
static int prepare_inserts(struct findings_writer *w, struct qloop_error *err)
{
    static const char head[] = "INSERT OR FAIL INTO finding_rows(run, kind, row_no, record_ref,"
                               " record_key, value, message, sealed, part) VALUES";
    static const char row[] = "(?,?,?,?,?,?,?,?,?)";
    w->ins = sql_prepare_rows(w->db, head, row, 1, err);
    w->ins_many = w->ins ? sql_prepare_rows(w->db, head, row, BATCH, err) : NULL;
    if (w->ins_many) {
        sqlite3_bind_int64(w->ins, 1, w->run_num);
        for (int i = 0; i < BATCH; i++)
            sqlite3_bind_int64(w->ins_many, 1 + 9 * i, w->run_num);
        return 0;
    }
    sqlite3_finalize(w->ins);
    w->ins = NULL;
    return -1;
}

int findings_flush(struct findings_writer *w, struct qloop_error *err)
{
    if (stage_spool_size(w->spool) == 0)
        return 0;
    if (!w->run_num) {
        const char *id = w->run_id;
        if (sql_exec_texts(w->db, "INSERT OR IGNORE INTO finding_runs(run_id) VALUES(?1)",
                           "写入问题记录", err, 1, &id) != 0 ||
            sql_int64_texts(w->db, "SELECT id FROM finding_runs WHERE run_id = ?1", 1, &id, 0,
                            &w->run_num, err) != 0)
            return -1;
    }
    if ((!w->ins && prepare_inserts(w, err) != 0) || store_kinds(w, err) != 0)
        return -1;
    if (!w->refs_held) /* else the keys go on after the held flushes' */
        findings_refs_begin(w->refs, (size_t)w->pending);
    keys_aside(w);
    qloop_buf_reset(&w->walk.carry);
    qloop_buf_reset(&w->batch);
    w->nbatch = 0;
    w->flush_err = err;
    int rc = stage_spool_drain(w->spool, insert_piece, w, err);
    if (rc == 0 && w->walk.carry.len)
        rc = qloop_error_internal(err, NULL, "暂存的问题记录不完整");
    if (rc == 0 && w->nbatch)
        rc = insert_batch(w, err);
    if (w->keys) {
        findings_keys_join(w->keys);
        w->keys = NULL;
    }
    qloop_buf_reset(&w->batch);
    w->nbatch = 0;
    qloop_buf_reset(&w->walk.carry);
    w->flush_err = NULL;
    w->pending = 0;
    /* the keys once every row is in, unless held (a failed flush: the
     * caller rolls the run's transaction back, rows and keys alike) */
    w->refs_held = rc == 0 && w->hold_refs;
    if (w->refs_held)
        return 0;
    if (rc == 0)
        return findings_refs_write(w->refs, w->db, w->run_num, err);
    findings_refs_begin(w->refs, 0);
    return -1;
}

void findings_hold_refs(struct findings_writer *w)
{
    w->hold_refs = true;
}

int findings_release_refs(struct findings_writer *w, bool write, struct qloop_error *err)
{
    bool held = w->refs_held;
    w->hold_refs = w->refs_held = false;
    if (held && write)
        return findings_refs_write(w->refs, w->db, w->run_num, err);
    findings_refs_begin(w->refs, 0);
    return 0;
}

void findings_writer_keys_aside(struct findings_writer *w, bool on)
{
    w->no_keys_aside = !on;
}

void findings_writer_sort_budget(struct findings_writer *w, size_t bytes)
{
    findings_refs_budget(w->refs, bytes);
}

void findings_keep_refs(struct findings_writer *w)
{
    findings_refs_keep(w->refs);
}

int findings_take_refs(struct findings_writer *w, ticket_key_fn each, void *ctx)
{
    return findings_refs_take_kept(w->refs, each, ctx);
}

int findings_give_refs(struct findings_writer *w, struct ticket_keys *out)
{
    return findings_refs_give_kept(w->refs, out);
}

void findings_quote(struct qloop_buf *out, const char *s, size_t len, bool sensitive)
{
    if (len == 0)
        append(out, "（空）");
    else if (sensitive)
        mask_sensitive(s, len, out);
    else
        qloop_buf_append(out, s, len);
}

void findings_append_uint(struct qloop_buf *out, uint64_t n)
{
    char digits[24];
    size_t i = sizeof digits;
    do
        digits[--i] = (char)('0' + n % 10);
    while ((n /= 10) != 0);
    qloop_buf_append(out, digits + i, sizeof digits - i);
}

void findings_row_key(struct qloop_buf *out, uint64_t row_no)
{
    qloop_buf_putc(out, '#');
    findings_append_uint(out, row_no);
}

static int sink_write(void *ctx, const struct qloop_finding *f, struct qloop_error *err)
{
    return findings_write(ctx, f, NULL, err);
}

struct qloop_findings_sink findings_sink(struct findings_writer *w)
{
    return (struct qloop_findings_sink){.write = sink_write, .ctx = w};
}
