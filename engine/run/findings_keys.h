/*
 * findings_keys.h (run) — a flush's keys collected on a thread of their
 * own while the run's thread stores the rows.
 *
 * A first night's flush stores millions of findings on the run's one thread
 * while the read's other core idles. Of that serial work, collecting each
 * finding's key for finding_refs (findings_refs_add: the ref unhexed, the
 * entry written into fresh memory, whose first touch faults) and sorting
 * the keys (findings_refs_sort) need nothing of the store. So a large flush
 * hands them here: a thread reads the spool once more (a view of it,
 * stage_spool_view), adds every finding's entry, in the order the flush
 * stores them, with its store kind from a table the flush filled before,
 * and sorts the entries; findings_refs_write, after the join, finds them
 * sorted. The entries, and so finding_refs and the keys kept for the
 * ticket phase, are the ones the flush would have collected itself.
 */
#ifndef QLOOP_RUN_FINDINGS_KEYS_H
#define QLOOP_RUN_FINDINGS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "run/findings_refs.h"
#include "run/stage.h"

/* Flushes of fewer findings collect their keys themselves: a thread's
 * start and the spool read twice cost more than the keys save. */
enum { FINDINGS_KEYS_ASIDE_MIN = 4096 };

struct findings_keys;

/* Starts the thread over view (taken: freed at the join), adding
 * to r — begun for this flush (findings_refs_begin) and from now on aside
 * (findings_refs_aside) — the entry of each finding: the store kind
 * kind_of[k] of the writer's kind k (kind_of[0 .. nkinds], copied; 0: a
 * kind not in the flush, which makes the collection fail), its ref and its
 * digest; then sorts them. NULL when the thread cannot be started (view
 * freed, r not aside: the flush collects the keys itself). */
struct findings_keys *findings_keys_start(struct findings_refs *r, struct stage_spool_view *view,
                                          const int64_t *kind_of, size_t nkinds);

/* Waits for the thread and tells r it is done (findings_refs_aside_done):
 * whole when it read the view to its end and every finding had a kind.
 * k is freed. */
void findings_keys_join(struct findings_keys *k);

#endif
