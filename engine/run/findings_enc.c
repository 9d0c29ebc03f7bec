/*
 * findings_enc.c — the spool's pieces taken back apart into whole encoded
 * findings (see run/findings_enc.h).
 */
#include "run/findings_enc.h"

int findings_enc_walk(struct findings_enc_walk *wk, const void *piece, size_t n,
                      int (*one)(void *ctx, const char *enc), void *ctx, struct qloop_error *err)
{
    const char *p = piece, *end = p + n;
    struct findings_enc_head h;
    if (wk->carry.len) {
        for (;;) {
            size_t need = sizeof h;
            if (wk->carry.len >= need) {
                memcpy(&h, wk->carry.ptr, sizeof h);
                if (h.size < sizeof h)
                    return qloop_error_internal(err, NULL, "暂存的问题记录已损坏（长度 %u）", h.size);
                need = h.size;
            }
            if (wk->carry.len == need)
                break;
            size_t take = need - wk->carry.len;
            if (take > (size_t)(end - p))
                take = (size_t)(end - p);
            if (take == 0)
                return 0;
            qloop_buf_append(&wk->carry, p, take);
            p += take;
        }
        int rc = one(ctx, wk->carry.ptr);
        if (rc != 0)
            return rc;
        qloop_buf_reset(&wk->carry);
    }
    while (p < end) {
        size_t have = (size_t)(end - p);
        if (have >= sizeof h) {
            memcpy(&h, p, sizeof h);
            if (h.size < sizeof h)
                return qloop_error_internal(err, NULL, "暂存的问题记录已损坏（长度 %u）", h.size);
        }
        if (have < sizeof h || have < h.size) {
            qloop_buf_append(&wk->carry, p, have);
            break;
        }
        int rc = one(ctx, p);
        if (rc != 0)
            return rc;
        p += h.size;
    }
    return 0;
}
