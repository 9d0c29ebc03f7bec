/*
 * merge.c — `qloop merge`: the shards of every part into one run (see
 * partition.h), in three phases:
 *   the shard set  every shard's header read and checked before anything
 *                  else: same qloop, same rules (the pack fingerprint), same
 *                  divisions table, every dataset of the rules present with
 *                  every part exactly once;
 *   the datasets   in the run's order (referenced datasets first), each
 *                  dataset's parts in part order through merge_part.c: the
 *                  verdicts become findings, the states feed the run's own
 *                  whole-dataset phases (unique, references, compares,
 *                  freshness, the re-check); then the dataset's results
 *                  (ds_whole, ds_record) as a run records them;
 *   writing        the run's own write transaction (run_write): compares,
 *                  catalog checks, tickets, audit — all or nothing.
 * Rows are numbered across a dataset's parts in part order inside the merge
 * (so a record's place is one number, as in a run); the findings writer
 * stores each finding's row within its part and the part.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/strmap.h"
#include "run/compare.h"
#include "run/context.h"
#include "run/findings.h"
#include "run/merge.h"
#include "run/partition.h"

/* ---- the shard set ---- */

static const char *header_text(const json_t *h, const char *key)
{
    const char *s = json_string_value(json_object_get(h, key));
    return s ? s : "";
}

/* Reads and checks shard k's header against the pack and the merge. */
static int read_header(struct merge *m, size_t k)
{
    struct shard_in *in = &m->in[k];
    struct qloop_error *err = m->run->err;
    json_t *h;
    struct shard_reader *r = shard_reader_open(in->path, &h, err);
    if (!r)
        return -1;
    in->header = json_incref(h);
    if (strcmp(in->path, "-") == 0)
        in->kept = r; /* standard input is read once: the rest waits */
    else
        shard_reader_close(r);
    const char *version = header_text(h, "qloop");
    if (m->o->version && strcmp(version, m->o->version) != 0)
        return qloop_error_set(err, in->path, 1, 0,
                               "分片有误：分片由 qloop %s 判定，本程序是 qloop %s；请用同一版本的 qloop 判定和合并",
                               version, m->o->version);
    if (strcmp(header_text(h, "pack"), m->pack_fp) != 0)
        return qloop_error_set(err, in->path, 1, 0,
                               "分片有误：这个分片是用另一套规则判定的（规则文件的指纹不同）；请用与合并时相同的规则文件重新判定");
    const char *name = header_text(h, "dataset");
    struct pack_dataset *d = pack_find_dataset(m->run->p, name);
    if (!d)
        return qloop_error_set(err, in->path, 1, 0, "分片有误：分片的数据集 \"%s\" 在规则中没有声明", name);
    in->dataset = (size_t)(d - m->run->p->datasets);
    if (part_parse(json_string_value(json_object_get(h, "part")), &in->part, &in->nparts) != 0)
        return qloop_error_set(err, in->path, 1, 0, "分片有误：分片头的 part 应为 \"I/N\"（1 ≤ I ≤ N）");
    const char *div = header_text(h, "divisions");
    if (k > 0 && strcmp(div, header_text(m->in[0].header, "divisions")) != 0)
        return qloop_error_set(err, in->path, 1, 0,
                               "分片有误：这个分片与分片 %s 所用的行政区划代码表不同；请用同一份 --divisions 重新判定",
                               m->in[0].path);
    return 0;
}

/* Orders the shards by dataset and part: qsort. */
static int by_dataset_part(const void *a, const void *b)
{
    const struct shard_in *x = a, *y = b;
    if (x->dataset != y->dataset)
        return x->dataset < y->dataset ? -1 : 1;
    return x->part < y->part ? -1 : x->part > y->part;
}

/* Every dataset of the pack has its parts 1..N, each exactly once. */
static int check_parts(struct merge *m)
{
    struct qloop_error *err = m->run->err;
    struct pack *p = m->run->p;
    qsort(m->in, m->nin, sizeof *m->in, by_dataset_part);
    size_t k = 0;
    for (size_t d = 0; d < p->ndatasets; d++) {
        const char *name = p->datasets[d].name;
        if (k >= m->nin || m->in[k].dataset != d)
            return qloop_error_set(err, NULL, 0, 0,
                                   "缺少数据集 \"%s\" 的分片：规则声明的每个数据集都要逐部分判定（qloop judge），再一起合并",
                                   name);
        size_t first = k;
        unsigned long n = m->in[k].nparts;
        for (unsigned long want = 1; k < m->nin && m->in[k].dataset == d; k++, want++) {
            const struct shard_in *in = &m->in[k];
            if (in->nparts != n)
                return qloop_error_set(err, in->path, 1, 0,
                                       "分片有误：这个分片是数据集 \"%s\" 的第 %lu/%lu 部分，而分片 %s 说共 %lu 部分；请核对 --part",
                                       name, in->part, in->nparts, m->in[first].path, n);
            if (in->part < want)
                return qloop_error_set(err, in->path, 1, 0,
                                       "分片有误：这个分片与分片 %s 都是数据集 \"%s\" 的第 %lu/%lu 部分；同一部分只能合并一次",
                                       m->in[k - 1].path, name, in->part, n);
            if (in->part > want)
                return qloop_error_set(err, NULL, 0, 0, "缺少数据集 \"%s\" 的第 %lu/%lu 部分的分片", name,
                                       want, n);
        }
        if (k - first < n)
            return qloop_error_set(err, NULL, 0, 0, "缺少数据集 \"%s\" 的第 %lu/%lu 部分的分片", name,
                                   (unsigned long)(k - first) + 1, n);
    }
    return 0;
}

static int read_shard_set(struct merge *m)
{
    size_t stdin_uses = 0;
    for (size_t k = 0; k < m->nin; k++) {
        if (strcmp(m->in[k].path, "-") == 0 && ++stdin_uses > 1)
            return qloop_error_set(m->run->err, NULL, 0, 0, "标准输入（-）只能给出一个分片");
        if (read_header(m, k) != 0)
            return -1;
    }
    return check_parts(m);
}

/* ---- the datasets ---- */

/* The shards of dataset d: their first index into *first, their count. */
static size_t shards_of(const struct merge *m, size_t d, size_t *first)
{
    size_t k = 0;
    while (k < m->nin && m->in[k].dataset != d)
        k++;
    *first = k;
    size_t n = 0;
    while (k + n < m->nin && m->in[k + n].dataset == d)
        n++;
    return n;
}

/* The dataset's run_datasets "source": where a merged dataset came from. */
static void merged_source(const struct merge *m, size_t first, size_t n, struct qloop_buf *out)
{
    qloop_buf_printf(out, "合并 %zu 个分片：%s", n, m->in[first].path);
    if (n > 1)
        qloop_buf_printf(out, " … %s", m->in[first + n - 1].path);
}

/* Merges every part of dataset d, then records its results as a run does. */
static int merge_dataset(struct merge *m, struct pack_dataset *d)
{
    struct run_ctx *run = m->run;
    size_t first, n = shards_of(m, (size_t)(d - run->p->datasets), &first);
    struct merge_ds md = {.m = m, .ds = {.run = run, .d = d, .updated_col = -1},
                          .in = &m->in[first], .nparts = n};
    struct qloop_buf source = {0};
    merged_source(m, first, n, &source);
    md.ds.path = qloop_buf_str(&source);
    ds_setup_rules(&md.ds);
    int rc = recheck_begin(&md.ds);
    if (rc == 0)
        rc = merge_parts(&md);
    if (rc == 0 && md.ncols > 0) {
        ds_bind_names(&md.ds, md.ncols, (const char *const *)md.cols);
        rc = compare_check_columns(run->compares, d->name, md.ds.names, md.ds.ncols, run->err);
    }
    if (rc == 0)
        rc = ds_whole(&md.ds);
    if (rc == 0)
        rc = ds_record(&md.ds);
    ds_free(&md.ds);
    merge_ds_free(&md);
    qloop_buf_free(&source);
    return rc;
}

/* ---- the merge ---- */

/* Seconds on clock id (wall: CLOCK_MONOTONIC; CPU: CLOCK_PROCESS_CPUTIME_ID). */
static double seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void merge_free(struct merge *m)
{
    for (size_t k = 0; k < m->nin; k++) {
        json_decref(m->in[k].header);
        shard_reader_close(m->in[k].kept);
    }
    free(m->in);
    for (size_t i = 0; m->refvals && i < m->run->nrefsets; i++)
        strmap_free(m->refvals[i]);
    free(m->refvals);
}

int merge_execute(sqlite3 *db, struct pack *p, const struct merge_options *o,
                  struct run_outcome *out, struct qloop_error *err)
{
    struct run_ctx run;
    run_init(&run, db, p, &o->run, err);
    memset(out, 0, sizeof *out);
    struct merge m = {.run = &run, .o = o, .nin = o->nshards};
    m.in = qloop_xcalloc(o->nshards + 1, sizeof *m.in);
    for (size_t k = 0; k < o->nshards; k++)
        m.in[k].path = o->shards[k];
    size_t *order = qloop_xcalloc(p->ndatasets + 1, sizeof *order);
    int rc = run_setup(&run, order, false);
    shard_pack_fingerprint(p, m.pack_fp);
    if (rc == 0)
        rc = read_shard_set(&m);
    if (rc == 0)
        rc = run_open_results(&run);
    if (rc == 0) {
        m.refvals = qloop_xcalloc(run.nrefsets + 1, sizeof *m.refvals);
        for (size_t i = 0; i < run.nrefsets; i++)
            m.refvals[i] = strmap_new();
    }
    double w0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (size_t i = 0; rc == 0 && i < p->ndatasets; i++)
        rc = merge_dataset(&m, &p->datasets[order[i]]);
    out->seconds_read = seconds(CLOCK_MONOTONIC) - w0;
    out->cpu_seconds_read = seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (rc == 0)
        rc = run_write(&run, out);
    if (rc == 0) {
        snprintf(out->run_id, sizeof out->run_id, "%s", run.run_id);
        out->failed_records = run.failed_records;
    }
    merge_free(&m);
    run_release(&run);
    free(order);
    return rc;
}
