/*
 * schema.c — every table the store holds, as numbered schema steps.
 *
 * Step N brings a store from PRAGMA user_version N-1 to N. Steps are
 * append-only: a step that has landed on main is released — bureaus' stores
 * have run it — and is never edited again; a change to the schema is a new
 * step at the end (CREATE, ALTER, or a data move written in SQL). Steps 1-4
 * are the release-0.1 schema exactly as it shipped, including the tables
 * each module used to declare for itself.
 */
#include "store/schema.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* 1: runs and their results. */
static const char step1_core[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE runs(id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT,"
    "  as_of TEXT NOT NULL, status TEXT NOT NULL, rules TEXT NOT NULL, summary TEXT);"
    "CREATE TABLE run_datasets(run_id TEXT NOT NULL, dataset TEXT NOT NULL, source TEXT,"
    "  rows INTEGER NOT NULL, owner TEXT, update_cycle TEXT, newest_update TEXT,"
    "  columns TEXT, PRIMARY KEY(run_id, dataset));"
    "CREATE TABLE rule_results(run_id TEXT NOT NULL, rule TEXT NOT NULL, dataset TEXT NOT NULL,"
    "  field TEXT, dimension TEXT NOT NULL, severity TEXT NOT NULL, message TEXT,"
    "  checked INTEGER NOT NULL, failed INTEGER NOT NULL, errors INTEGER NOT NULL,"
    "  resolve_missing INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(run_id, rule));"
    "CREATE TABLE findings(id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, dataset TEXT NOT NULL,"
    "  rule TEXT NOT NULL, row_no INTEGER, record_ref TEXT NOT NULL, record_key TEXT,"
    "  field TEXT, value TEXT, message TEXT);"
    "CREATE INDEX findings_run ON findings(run_id, dataset, rule);"
    "CREATE TABLE cleanse_counts(run_id TEXT NOT NULL, dataset TEXT NOT NULL, field TEXT NOT NULL,"
    "  changed INTEGER NOT NULL, PRIMARY KEY(run_id, dataset, field));"
    "CREATE TABLE run_seen(run_id TEXT NOT NULL, dataset TEXT NOT NULL, record_ref TEXT NOT NULL,"
    "  PRIMARY KEY(run_id, dataset, record_ref)) WITHOUT ROWID;";

/* 2: the tamper-evident audit chain (store/audit.c). */
static const char step2_audit[] =
    "CREATE TABLE audit(seq INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL,"
    "  subject TEXT NOT NULL, actor TEXT NOT NULL, detail TEXT NOT NULL,"
    "  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX audit_subject ON audit(subject, seq);"
    "CREATE TABLE audit_head(id INTEGER PRIMARY KEY CHECK(id = 1), seq INTEGER NOT NULL,"
    "  hash TEXT NOT NULL);"
    "INSERT INTO audit_head(id, seq, hash) VALUES(1, 0, '" ZERO_HASH "');"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head"
    "  BEGIN SELECT RAISE(ABORT, 'audit_head cannot be deleted'); END;"
    "CREATE TRIGGER audit_head_follows BEFORE UPDATE ON audit_head"
    "  WHEN NEW.id IS NOT 1 OR NEW.seq IS NOT (SELECT max(seq) FROM audit)"
    "    OR NEW.hash IS NOT (SELECT hash FROM audit WHERE seq = NEW.seq)"
    "  BEGIN SELECT RAISE(ABORT, 'audit_head only follows the last audit entry'); END;";

/* 3: the closed loop: tickets, items, history, outbox, per-department stats. */
static const char step3_tickets[] =
    /* source: run | file (系统填报) | import (接口对接). base_deadline: the
     * deadline before any extension (the wenzhou cap counts from it).
     * answered_at: when the provider last answered (left feedback).
     * ext_*: the pending extension request. stats_run: the run whose
     * dept_stats counted this ticket's closing. */
    "CREATE TABLE tickets(id INTEGER PRIMARY KEY, dataset TEXT NOT NULL, rule TEXT NOT NULL,"
    "  source TEXT NOT NULL CHECK(source IN ('run','file','import')), dept TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK(state IN ('discovered','feedback','corrected','shared',"
    "    'confirmed','negotiated')),"
    "  message TEXT, policy TEXT NOT NULL, urgent INTEGER NOT NULL DEFAULT 0,"
    "  opened_at TEXT NOT NULL, opened_by TEXT NOT NULL, opened_run TEXT,"
    "  received_at TEXT, deadline TEXT, base_deadline TEXT, answered_at TEXT, closed_at TEXT,"
    "  note TEXT, ext_until TEXT, ext_reason TEXT, ext_actor TEXT, ext_at TEXT, stats_run TEXT);"
    "CREATE UNIQUE INDEX tickets_one_open ON tickets(dataset, rule, source)"
    "  WHERE state NOT IN ('shared','confirmed');"
    "CREATE INDEX tickets_state ON tickets(state, dept);"
    /* One item per problem record. state: open | missing (open, but the
     * record was not in the last run's data) | fixed | closed (the ticket
     * was closed as confirmed). reopened_from: the closed ticket in which
     * this record had been before. last_run: the last run that wrote the
     * item's evidence (row_no, record_key, value, message, sealed) — the
     * run that added it, else the latest whose finding differed from what
     * the item held, or found it again after it had gone missing. A run
     * that finds the record failing again unchanged leaves the item alone
     * (loop/ticket_refresh.c), so last_run is not the last run that saw
     * it fail. */
    "CREATE TABLE ticket_items(id INTEGER PRIMARY KEY,"
    "  ticket_id INTEGER NOT NULL REFERENCES tickets(id),"
    "  dataset TEXT NOT NULL, rule TEXT NOT NULL, record_ref TEXT NOT NULL, record_key TEXT,"
    "  field TEXT, value TEXT, message TEXT, row_no INTEGER,"
    "  state TEXT NOT NULL CHECK(state IN ('open','missing','fixed','closed')),"
    "  reporter TEXT, added_at TEXT NOT NULL, added_run TEXT, last_run TEXT,"
    "  closed_at TEXT, closed_run TEXT, reopened_from INTEGER);"
    "CREATE UNIQUE INDEX ticket_items_one_open ON ticket_items(dataset, rule, record_ref)"
    "  WHERE state IN ('open','missing');"
    "CREATE INDEX ticket_items_ref ON ticket_items(dataset, rule, record_ref, id);"
    "CREATE INDEX ticket_items_ticket ON ticket_items(ticket_id, state);"
    "CREATE TABLE ticket_history(id INTEGER PRIMARY KEY,"
    "  ticket_id INTEGER NOT NULL REFERENCES tickets(id), at TEXT NOT NULL, actor TEXT NOT NULL,"
    "  event TEXT NOT NULL, from_state TEXT, to_state TEXT NOT NULL, reason TEXT,"
    "  deadline_before TEXT, deadline_after TEXT, run_id TEXT);"
    "CREATE INDEX ticket_history_ticket ON ticket_history(ticket_id, id);"
    "CREATE TABLE outbox(id INTEGER PRIMARY KEY, event_key TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL, ticket_id INTEGER, dataset TEXT, rule TEXT, dept TEXT, state TEXT,"
    "  deadline TEXT, recipient TEXT, message TEXT NOT NULL, created_at TEXT NOT NULL,"
    "  exported_at TEXT);"
    "CREATE INDEX outbox_pending ON outbox(exported_at, id);"
    /* Per run and department: tickets opened by the run, tickets closed since
     * the previous run's count (on time: answered by the deadline), open
     * tickets, and open tickets past their deadline at the run's time.
     * Summing closed_* over a year's runs gives the year's closings. */
    "CREATE TABLE dept_stats(run_id TEXT NOT NULL, dept TEXT NOT NULL, at TEXT NOT NULL,"
    "  opened INTEGER NOT NULL, closed_on_time INTEGER NOT NULL, closed_late INTEGER NOT NULL,"
    "  open_total INTEGER NOT NULL, open_overdue INTEGER NOT NULL, PRIMARY KEY(run_id, dept));"
    /* The re-check looks findings up by record. */
    "CREATE INDEX findings_ref ON findings(run_id, dataset, record_ref);";

/* 4: the resource catalog and its history. */
static const char step4_catalog[] =
    "CREATE TABLE catalog_versions(version INTEGER PRIMARY KEY, at TEXT NOT NULL,"
    "  actor TEXT NOT NULL, file TEXT, datasets INTEGER NOT NULL, added INTEGER NOT NULL,"
    "  changed INTEGER NOT NULL, removed INTEGER NOT NULL);"
    "CREATE TABLE catalog_datasets(dataset TEXT PRIMARY KEY, title TEXT, system TEXT,"
    "  owner TEXT, format TEXT, share TEXT, share_basis TEXT, open TEXT, open_basis TEXT,"
    "  provision TEXT, update_cycle TEXT, share_period TEXT, \"key\" TEXT,"
    "  added_at TEXT NOT NULL, changed_at TEXT NOT NULL, version INTEGER NOT NULL);"
    "CREATE TABLE catalog_fields(dataset TEXT NOT NULL, name TEXT NOT NULL, label TEXT,"
    "  type TEXT, sensitive INTEGER NOT NULL DEFAULT 0, pos INTEGER NOT NULL,"
    "  PRIMARY KEY(dataset, name));"
    "CREATE TABLE catalog_history(version INTEGER NOT NULL, dataset TEXT NOT NULL,"
    "  op TEXT NOT NULL CHECK(op IN ('add','change','remove')), entry TEXT,"
    "  changes TEXT NOT NULL, PRIMARY KEY(version, dataset));"
    "CREATE INDEX catalog_history_dataset ON catalog_history(dataset, version);"
    "CREATE TABLE catalog_drift(dataset TEXT NOT NULL, element TEXT NOT NULL,"
    "  direction TEXT NOT NULL CHECK(direction IN ('extra','missing')),"
    "  first_seen TEXT NOT NULL, first_run TEXT NOT NULL, last_seen TEXT NOT NULL,"
    "  last_run TEXT NOT NULL, PRIMARY KEY(dataset, element, direction));";

/* 5: published annual reports (reports/assessment.c: report_publish), which
 * release 0.1 created on first use, so a store from it may have the table
 * already: IF NOT EXISTS, and the same definition. */
static const char step5_report_published[] =
    "CREATE TABLE IF NOT EXISTS report_published(year INTEGER NOT NULL,"
    " model_hash TEXT NOT NULL, json TEXT NOT NULL, published_at TEXT NOT NULL);";

/* 6: departments, users and how they sign in (identity/identity.h). depts:
 * every department (seen_in: where it was first seen — console, rules,
 * catalog, upgrade); at most one is the bureau (大数据主管部门). users: one
 * role each; password_hash is a crypto_pwhash_str string (NULL for a system
 * user without a password). api_keys and sessions keep only hashes of the
 * secrets handed out. signin_failures: recent failed sign-ins, for
 * throttling. A store from an earlier qloop registers the departments its
 * tickets, runs and catalog already name, as first seen there. findings and
 * ticket_items.sealed: a masked record's raw key and value, sealed with the
 * store's key file (identity/seal.h), for its owner's eyes only. */
static const char step6_identity[] =
    "CREATE TABLE depts(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, code TEXT UNIQUE,"
    "  bureau INTEGER NOT NULL DEFAULT 0 CHECK(bureau IN (0, 1)),"
    "  registered_at TEXT NOT NULL, registered_by TEXT NOT NULL,"
    "  seen_in TEXT NOT NULL CHECK(seen_in IN ('console','rules','catalog','upgrade')));"
    "CREATE UNIQUE INDEX depts_one_bureau ON depts(bureau) WHERE bureau = 1;"
    "CREATE TABLE users(id INTEGER PRIMARY KEY, login TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL CHECK(role IN ('admin','steward','approver','provider','reporter',"
    "    'leader','system')),"
    "  dept TEXT REFERENCES depts(name), name TEXT, password_hash TEXT,"
    "  active INTEGER NOT NULL DEFAULT 1 CHECK(active IN (0, 1)),"
    "  created_at TEXT NOT NULL, created_by TEXT NOT NULL, disabled_at TEXT, disabled_by TEXT);"
    "CREATE TABLE api_keys(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),"
    "  key_id TEXT NOT NULL UNIQUE, key_hash TEXT NOT NULL, created_at TEXT NOT NULL,"
    "  revoked_at TEXT, last_used_at TEXT);"
    "CREATE TABLE sessions(id INTEGER PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE,"
    "  user_id INTEGER NOT NULL REFERENCES users(id), csrf TEXT NOT NULL,"
    "  created_at TEXT NOT NULL, expires_at TEXT NOT NULL);"
    "CREATE TABLE signin_failures(login TEXT NOT NULL, at TEXT NOT NULL);"
    "CREATE INDEX signin_failures_login ON signin_failures(login, at);"
    "INSERT OR IGNORE INTO depts(name, registered_at, registered_by, seen_in)"
    "  SELECT name, min(at), 'upgrade', 'upgrade' FROM ("
    "    SELECT dept AS name, opened_at AS at FROM tickets"
    "    UNION ALL SELECT d.owner, r.started_at FROM run_datasets d JOIN runs r ON r.id = d.run_id"
    "    UNION ALL SELECT owner, added_at FROM catalog_datasets)"
    "  WHERE name IS NOT NULL AND name <> '' GROUP BY name ORDER BY min(at), name;"
    "ALTER TABLE findings ADD COLUMN sealed BLOB;"
    "ALTER TABLE ticket_items ADD COLUMN sealed BLOB;";

/* 7: a ticket keeps the policy it was opened under (loop/ticket_policy.c):
 * each distinct policy once, as policy_to_json wrote it; tickets opened
 * before this step have no policy_id and are held to the policy of their
 * name. A reminder or overdue notice that is no longer true when the outbox
 * is exported (the ticket answered, its deadline moved, a reminder whose
 * deadline has passed) is superseded, not sent. */
static const char step7_ticket_policies[] =
    "CREATE TABLE ticket_policies(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    "  spec TEXT NOT NULL UNIQUE, added_at TEXT NOT NULL);"
    "ALTER TABLE tickets ADD COLUMN policy_id INTEGER REFERENCES ticket_policies(id);"
    "ALTER TABLE outbox ADD COLUMN superseded_at TEXT;";

/* 8: partitioned runs (qloop judge / merge): a finding's row is the row
 * within its part, and part says which ("2/4"; NULL for a whole run). */
static const char step8_parts[] =
    "ALTER TABLE findings ADD COLUMN part TEXT;";

/* 9: the keyed audit chain and the calendar in the store. audit_head gets a
 * MAC (store/audit.c); its trigger now also lets an empty chain's head be
 * put under it. The tables and triggers of step 2 are made again where an
 * attacker dropped them, so the upgrade goes through and verify can say what
 * happened. calendar_loads: every `qloop calendar load` (and the PATH.calendar
 * file of earlier versions, imported once by the code of this step,
 * store/upgrade.c), append-only, each with its audit entry. That code also
 * writes the keyed start of the chain and one baseline entry per ticket.
 * run_datasets: the pack's declarations, for masking filed reports. */
static const char step9_keyed_audit[] =
    "CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY, at TEXT NOT NULL,"
    "  kind TEXT NOT NULL, subject TEXT NOT NULL, actor TEXT NOT NULL, detail TEXT NOT NULL,"
    "  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit_head(id INTEGER PRIMARY KEY CHECK(id = 1),"
    "  seq INTEGER NOT NULL, hash TEXT NOT NULL);"
    "ALTER TABLE audit_head ADD COLUMN mac TEXT;"
    "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS audit_head_no_delete BEFORE DELETE ON audit_head"
    "  BEGIN SELECT RAISE(ABORT, 'audit_head cannot be deleted'); END;"
    "DROP TRIGGER IF EXISTS audit_head_follows;"
    "CREATE TRIGGER audit_head_follows BEFORE UPDATE ON audit_head"
    "  WHEN NEW.id IS NOT 1 OR NEW.seq IS NOT coalesce((SELECT max(seq) FROM audit), 0)"
    "    OR NEW.hash IS NOT coalesce((SELECT hash FROM audit WHERE seq = NEW.seq), '" ZERO_HASH "')"
    "  BEGIN SELECT RAISE(ABORT, 'audit_head only follows the last audit entry'); END;"
    "CREATE TABLE calendar_loads(id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,"
    "  source TEXT NOT NULL, sha256 TEXT NOT NULL, notices TEXT NOT NULL);"
    "CREATE TRIGGER calendar_loads_no_update BEFORE UPDATE ON calendar_loads"
    "  BEGIN SELECT RAISE(ABORT, 'calendar loads are append-only'); END;"
    "CREATE TRIGGER calendar_loads_no_delete BEFORE DELETE ON calendar_loads"
    "  BEGIN SELECT RAISE(ABORT, 'calendar loads are append-only'); END;"
    /* What a run's rule pack declared of each dataset it read: its sensitive
     * fields and its key fields (JSON arrays), so that a report filed by hand
     * or by interface is masked by the dataset's declaration (NULL: a run
     * from before, which recorded nothing). */
    "ALTER TABLE run_datasets ADD COLUMN sensitive TEXT;"
    "ALTER TABLE run_datasets ADD COLUMN key_fields TEXT;";

/* 10: problem reports POSTed to the portal's API with an Idempotency-Key
 * (web/act.c): the key, scoped to the user who sent it, with a hash of what
 * was asked and the ticket it was filed into, so a retry is answered with
 * the first filing instead of filing again. */
static const char step10_idempotency[] =
    "CREATE TABLE idempotency(login TEXT NOT NULL, key TEXT NOT NULL, request TEXT NOT NULL,"
    "  ticket_id INTEGER NOT NULL, duplicate INTEGER NOT NULL DEFAULT 0,"
    "  created_at TEXT NOT NULL, PRIMARY KEY(login, key));";

/* 11: findings in a compact layout. A night of a million records stores a
 * few hundred thousand findings; each row repeated the run id, the dataset,
 * the rule and the field as text and sat in two text indexes (run_id,
 * dataset, rule) and (run_id, dataset, record_ref). Now a finding row
 * (finding_rows) names its run and its kind (dataset, rule, field) by
 * number, and its one index (run, kind, record_ref) serves both: a run's
 * findings of one rule, and one record's findings (the re-check).
 * `findings` becomes a view with the columns and ids it always had —
 * sealed (step 6) and part (step 8) included — so every reader (reports,
 * the catalog, the loop, the portal, tools) reads it as before; writing
 * through the view (INSERT, DELETE) still works, by INSTEAD OF triggers,
 * though the run writes finding_rows itself (run/findings.c). Every row of
 * an existing store is kept with its id. */
static const char step11_compact_findings[] =
    "CREATE TABLE finding_runs(id INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE);"
    "CREATE TABLE finding_kinds(id INTEGER PRIMARY KEY, dataset TEXT NOT NULL, rule TEXT NOT NULL,"
    "  field TEXT);"
    "CREATE INDEX finding_kinds_rule ON finding_kinds(dataset, rule, field);"
    "CREATE TABLE finding_rows(id INTEGER PRIMARY KEY, run INTEGER NOT NULL, kind INTEGER NOT NULL,"
    "  row_no INTEGER, record_ref TEXT NOT NULL, record_key TEXT, value TEXT, message TEXT,"
    "  sealed BLOB, part TEXT);"
    "INSERT INTO finding_runs(run_id) SELECT run_id FROM findings GROUP BY run_id ORDER BY min(id);"
    "INSERT INTO finding_kinds(dataset, rule, field) SELECT dataset, rule, field FROM findings"
    "  GROUP BY dataset, rule, field ORDER BY min(id);"
    "INSERT INTO finding_rows(id, run, kind, row_no, record_ref, record_key, value, message, sealed,"
    "  part)"
    "  SELECT f.id, r.id, k.id, f.row_no, f.record_ref, f.record_key, f.value, f.message, f.sealed,"
    "  f.part"
    "  FROM findings f JOIN finding_runs r ON r.run_id = f.run_id"
    "  JOIN finding_kinds k ON k.dataset = f.dataset AND k.rule = f.rule AND k.field IS f.field"
    "  ORDER BY f.id;"
    "DROP TABLE findings;"
    "CREATE INDEX finding_rows_run ON finding_rows(run, kind, record_ref);"
    "CREATE VIEW findings(id, run_id, dataset, rule, row_no, record_ref, record_key, field, value,"
    "  message, sealed, part) AS"
    "  SELECT f.id, r.run_id, k.dataset, k.rule, f.row_no, f.record_ref, f.record_key, k.field,"
    "  f.value, f.message, f.sealed, f.part"
    "  FROM finding_rows f JOIN finding_runs r ON r.id = f.run JOIN finding_kinds k ON k.id = f.kind;"
    "CREATE TRIGGER findings_insert INSTEAD OF INSERT ON findings BEGIN"
    "  INSERT OR IGNORE INTO finding_runs(run_id) VALUES(NEW.run_id);"
    "  INSERT INTO finding_kinds(dataset, rule, field) SELECT NEW.dataset, NEW.rule, NEW.field"
    "   WHERE NOT EXISTS (SELECT 1 FROM finding_kinds WHERE dataset = NEW.dataset"
    "   AND rule = NEW.rule AND field IS NEW.field);"
    "  INSERT INTO finding_rows(id, run, kind, row_no, record_ref, record_key, value, message,"
    "   sealed, part) VALUES(NEW.id, (SELECT id FROM finding_runs WHERE run_id = NEW.run_id),"
    "   (SELECT id FROM finding_kinds WHERE dataset = NEW.dataset AND rule = NEW.rule"
    "    AND field IS NEW.field ORDER BY id LIMIT 1), NEW.row_no, NEW.record_ref, NEW.record_key,"
    "   NEW.value, NEW.message, NEW.sealed, NEW.part);"
    " END;"
    "CREATE TRIGGER findings_delete INSTEAD OF DELETE ON findings BEGIN"
    "  DELETE FROM finding_rows WHERE id = OLD.id;"
    " END;";

/* 12: one index of ticket items by record instead of two. Each of a
 * night's new items went into two B-trees keyed by the same (dataset, rule,
 * record_ref): ticket_items_one_open (UNIQUE over the open and missing
 * items: at most one open item per record) and ticket_items_ref (every
 * item, for a record's latest item). One UNIQUE index over every item now
 * does both: its last key is 0 for an open or missing item and the item's
 * own id otherwise, so two open items of one record collide (the database
 * still refuses a duplicate whatever the code does) while a record's
 * closed items never do; a record's items, the latest included, are found
 * by its first three keys, and its open one by the key 0 (loop/
 * ticket_sync.c asks for it with the same expression). */
static const char step12_items_by_record[] =
    "DROP INDEX ticket_items_one_open;"
    "DROP INDEX ticket_items_ref;"
    "CREATE UNIQUE INDEX ticket_items_record ON ticket_items(dataset, rule, record_ref,"
    "  (CASE WHEN state IN ('open','missing') THEN 0 ELSE id END));";

/* 13: ticket_items again, whole, with the same columns, rows, ids and
 * indexes, its state checked by comparisons instead of an IN list. SQLite
 * (3.40) evaluates a CHECK's IN list of more than two constants by filling
 * a temporary table with the list for every row written (no once-only
 * guard in a CHECK): W1 1M night 1, 180,000 items, ~11 % of the ticket
 * phase. "state = 'open' OR ..." accepts and refuses exactly the same
 * values (a TEXT column compared with text literals, BINARY collation; a
 * NULL state is refused by NOT NULL either way). A CHECK cannot be altered
 * in place, so the table is rebuilt (copied in id order, the old one
 * dropped, the copy renamed, the indexes made again as step 12 left them:
 * loop/ticket_private.h's TK_ITEM_OPEN_KEY is the record index's
 * expression); nothing else refers to ticket_items (no trigger, view or
 * foreign key), and the whole upgrade is one transaction. */
static const char step13_items_check[] =
    "CREATE TABLE ticket_items_13(id INTEGER PRIMARY KEY,"
    "  ticket_id INTEGER NOT NULL REFERENCES tickets(id),"
    "  dataset TEXT NOT NULL, rule TEXT NOT NULL, record_ref TEXT NOT NULL, record_key TEXT,"
    "  field TEXT, value TEXT, message TEXT, row_no INTEGER,"
    "  state TEXT NOT NULL"
    "   CHECK(state = 'open' OR state = 'missing' OR state = 'fixed' OR state = 'closed'),"
    "  reporter TEXT, added_at TEXT NOT NULL, added_run TEXT, last_run TEXT,"
    "  closed_at TEXT, closed_run TEXT, reopened_from INTEGER, sealed BLOB);"
    "INSERT INTO ticket_items_13(id, ticket_id, dataset, rule, record_ref, record_key, field,"
    "  value, message, row_no, state, reporter, added_at, added_run, last_run, closed_at,"
    "  closed_run, reopened_from, sealed)"
    "  SELECT id, ticket_id, dataset, rule, record_ref, record_key, field, value, message,"
    "  row_no, state, reporter, added_at, added_run, last_run, closed_at, closed_run,"
    "  reopened_from, sealed FROM ticket_items ORDER BY id;"
    "DROP TABLE ticket_items;"
    "ALTER TABLE ticket_items_13 RENAME TO ticket_items;"
    "CREATE INDEX ticket_items_ticket ON ticket_items(ticket_id, state);"
    "CREATE UNIQUE INDEX ticket_items_record ON ticket_items(dataset, rule, record_ref,"
    "  (CASE WHEN state IN ('open','missing') THEN 0 ELSE id END));";

/* 14: the findings' keys by record in a table of their own. Each finding's
 * entry in finding_rows_run (run, kind, record_ref) went to a random leaf
 * of its kind's part of the index (record_ref is a hash): a night of a
 * million records spent most of its results phase descending into it
 * (W1 1M night 2: ~0.3 s), and dropping it for a first night and making it
 * again (CREATE INDEX) still sorted and wrote every entry. finding_refs
 * holds the same keys — (run, kind, record_ref) and the finding's id —
 * as a WITHOUT ROWID table, which the findings writer (run/findings_refs.c)
 * fills in its key order, sorted in memory, so that its B-tree is only
 * ever appended to at the end of the run's range; its primary key serves
 * the readers the index served (a run's findings of one kind, one record's
 * findings, in id order within a record). finding_rows keeps every column
 * and its ids; its index goes. Whatever adds or deletes a finding keeps
 * both tables in step: the `findings` view's triggers are made again to
 * write and delete finding_refs too (the view itself is unchanged), and
 * pruning (store/store.c) deletes from both. An existing store's findings
 * are copied in key order (read from the old index, before it goes). */
static const char step14_finding_refs[] =
    "CREATE TABLE finding_refs(run INTEGER NOT NULL, kind INTEGER NOT NULL,"
    "  record_ref TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY(run, kind, record_ref, id))"
    "  WITHOUT ROWID;"
    "INSERT INTO finding_refs(run, kind, record_ref, id)"
    "  SELECT run, kind, record_ref, id FROM finding_rows ORDER BY run, kind, record_ref, id;"
    "DROP INDEX finding_rows_run;"
    "DROP TRIGGER findings_insert;"
    "CREATE TRIGGER findings_insert INSTEAD OF INSERT ON findings BEGIN"
    "  INSERT OR IGNORE INTO finding_runs(run_id) VALUES(NEW.run_id);"
    "  INSERT INTO finding_kinds(dataset, rule, field) SELECT NEW.dataset, NEW.rule, NEW.field"
    "   WHERE NOT EXISTS (SELECT 1 FROM finding_kinds WHERE dataset = NEW.dataset"
    "   AND rule = NEW.rule AND field IS NEW.field);"
    "  INSERT INTO finding_rows(id, run, kind, row_no, record_ref, record_key, value, message,"
    "   sealed, part) VALUES(NEW.id, (SELECT id FROM finding_runs WHERE run_id = NEW.run_id),"
    "   (SELECT id FROM finding_kinds WHERE dataset = NEW.dataset AND rule = NEW.rule"
    "    AND field IS NEW.field ORDER BY id LIMIT 1), NEW.row_no, NEW.record_ref, NEW.record_key,"
    "   NEW.value, NEW.message, NEW.sealed, NEW.part);"
    "  INSERT INTO finding_refs(run, kind, record_ref, id)"
    "   SELECT run, kind, record_ref, id FROM finding_rows WHERE id = last_insert_rowid();"
    " END;"
    "DROP TRIGGER findings_delete;"
    "CREATE TRIGGER findings_delete INSTEAD OF DELETE ON findings BEGIN"
    "  DELETE FROM finding_refs WHERE id = OLD.id"
    "   AND run = (SELECT run FROM finding_rows WHERE id = OLD.id)"
    "   AND kind = (SELECT kind FROM finding_rows WHERE id = OLD.id)"
    "   AND record_ref = (SELECT record_ref FROM finding_rows WHERE id = OLD.id);"
    "  DELETE FROM finding_rows WHERE id = OLD.id;"
    " END;";

/* 15: the verdict memo (run/memo.h): per dataset and chunk of 65,536 row
 * numbers, the latest run's row fingerprints and the answers of its Lua
 * record rules, with the environment they were given in, so that the next
 * night calls those rules only for the rows that changed. Written in the
 * run's own transaction, only the latest run's kept. A chunk is about a
 * megabyte, far over the twentieth of a page past which SQLite advises
 * against WITHOUT ROWID: a rowid table with its primary key's index. */
static const char step15_verdict_memo[] =
    "CREATE TABLE verdict_memo(dataset TEXT NOT NULL, chunk INTEGER NOT NULL, env BLOB NOT NULL,"
    "  data BLOB NOT NULL, PRIMARY KEY(dataset, chunk));";

/* 16: the index of items by record keyed by the record first. A first
 * night of many findings drops ticket_items_record and makes it again
 * (loop/ticket_items.c); SQLite's sorter compares the first key by a fast
 * path, and with (dataset, rule, record_ref, ...) the dataset and the rule
 * are equal across a whole rule, so every comparison unpacked both keys
 * (W1 10M night 1: 1.8M items, 4-6 s of the ticket phase). record_ref
 * (a hash) first decides nearly every comparison at once (the same sort
 * ~2.4 s). The index has the same keys and the same UNIQUE rule (at most
 * one open or missing item per dataset, rule and record; its last key is
 * loop/ticket_private.h's TK_ITEM_OPEN_KEY) and answers the same lookups
 * of one record's items; a dataset's or a rule's items are found through
 * their tickets and ticket_items_ticket instead (TK_ITEMS_OF_TICKETS). */
static const char step16_items_by_ref[] =
    "DROP INDEX ticket_items_record;"
    "CREATE UNIQUE INDEX ticket_items_record ON ticket_items(record_ref, dataset, rule,"
    "  (CASE WHEN state IN ('open','missing') THEN 0 ELSE id END));";

/* 17: a ticket item names its finding instead of copying it. A first night
 * copied each finding's evidence (row_no, record_key, value, message,
 * sealed: ~190 of an item's ~312 bytes) into a new item; now the item's row
 * (ticket_item_rows) names the finding by id (finding, a finding_rows id)
 * and leaves those columns NULL, or, with finding NULL, holds its evidence
 * itself: an item filed by a report or an import, an item a re-check or an
 * UPDATE wrote, an item whose finding was pruned (store/store.c
 * store_prune_findings copies the evidence first), and every item of an
 * upgraded store (copied here with its own evidence). A named finding's
 * evidence is what the first night's INSERT copied (loop/ticket_items.c):
 * its key and message with '' read as NULL, its sealed copy with an empty
 * one read as NULL, row_no and value as they are. `ticket_items` becomes a
 * view with today's columns, in today's order, and today's values; writing
 * through it (INSERT, UPDATE, DELETE) still works, by INSTEAD OF triggers:
 * an UPDATE that changes an item's evidence stores the new evidence in the
 * row and lets go of the finding. The indexes keep their names and keys
 * (ticket_items_ticket; ticket_items_record, whose last key is
 * loop/ticket_private.h's TK_ITEM_OPEN_KEY), now on ticket_item_rows, which
 * the loop reads and writes itself. Nothing else referred to ticket_items
 * (step 13), and the whole upgrade is one transaction.
 * An item naming a finding keeps the digest of the evidence it shows
 * (digest: loop/ticket.h ticket_evidence_digest, keyed by the store's
 * secret, as loop/ticket_named.c's TK_DIGEST_SQL gives it), so the nightly
 * refresh compares it with the run's finding without reading the named
 * one; NULL when the item holds its own evidence (every writer that lets
 * go of the finding sets it NULL) or was named without one (the refresh
 * then reads the finding). Deleting a finding through the `findings` view
 * (step 14's trigger, recreated) first gives the items naming it its
 * evidence, as pruning does: a scan of ticket_item_rows per deleted row,
 * acceptable there because the engine never deletes through the view
 * (store_prune_findings deletes from the tables, materialising in one
 * statement). */
static const char step17_items_name_findings[] =
    "CREATE TABLE ticket_item_rows(id INTEGER PRIMARY KEY,"
    "  ticket_id INTEGER NOT NULL REFERENCES tickets(id),"
    "  dataset TEXT NOT NULL, rule TEXT NOT NULL, record_ref TEXT NOT NULL, record_key TEXT,"
    "  field TEXT, value TEXT, message TEXT, row_no INTEGER,"
    "  state TEXT NOT NULL"
    "   CHECK(state = 'open' OR state = 'missing' OR state = 'fixed' OR state = 'closed'),"
    "  reporter TEXT, added_at TEXT NOT NULL, added_run TEXT, last_run TEXT,"
    "  closed_at TEXT, closed_run TEXT, reopened_from INTEGER, sealed BLOB, finding INTEGER,"
    "  digest INTEGER);"
    "INSERT INTO ticket_item_rows(id, ticket_id, dataset, rule, record_ref, record_key, field,"
    "  value, message, row_no, state, reporter, added_at, added_run, last_run, closed_at,"
    "  closed_run, reopened_from, sealed)"
    "  SELECT id, ticket_id, dataset, rule, record_ref, record_key, field, value, message,"
    "  row_no, state, reporter, added_at, added_run, last_run, closed_at, closed_run,"
    "  reopened_from, sealed FROM ticket_items ORDER BY id;"
    "DROP TABLE ticket_items;"
    "CREATE INDEX ticket_items_ticket ON ticket_item_rows(ticket_id, state);"
    "CREATE UNIQUE INDEX ticket_items_record ON ticket_item_rows(record_ref, dataset, rule,"
    "  (CASE WHEN state IN ('open','missing') THEN 0 ELSE id END));"
    "CREATE VIEW ticket_items(id, ticket_id, dataset, rule, record_ref, record_key, field, value,"
    "  message, row_no, state, reporter, added_at, added_run, last_run, closed_at, closed_run,"
    "  reopened_from, sealed) AS"
    "  SELECT i.id, i.ticket_id, i.dataset, i.rule, i.record_ref,"
    "  CASE WHEN i.finding IS NULL THEN i.record_key WHEN f.record_key <> '' THEN f.record_key END,"
    "  i.field, CASE WHEN i.finding IS NULL THEN i.value ELSE f.value END,"
    "  CASE WHEN i.finding IS NULL THEN i.message WHEN f.message <> '' THEN f.message END,"
    "  CASE WHEN i.finding IS NULL THEN i.row_no ELSE f.row_no END,"
    "  i.state, i.reporter, i.added_at, i.added_run, i.last_run, i.closed_at, i.closed_run,"
    "  i.reopened_from,"
    "  CASE WHEN i.finding IS NULL THEN i.sealed WHEN length(f.sealed) > 0 THEN f.sealed END"
    "  FROM ticket_item_rows i LEFT JOIN finding_rows f ON f.id = i.finding;"
    "CREATE TRIGGER ticket_items_insert INSTEAD OF INSERT ON ticket_items BEGIN"
    "  INSERT INTO ticket_item_rows(id, ticket_id, dataset, rule, record_ref, record_key, field,"
    "   value, message, row_no, state, reporter, added_at, added_run, last_run, closed_at,"
    "   closed_run, reopened_from, sealed)"
    "   VALUES(NEW.id, NEW.ticket_id, NEW.dataset, NEW.rule, NEW.record_ref, NEW.record_key,"
    "   NEW.field, NEW.value, NEW.message, NEW.row_no, NEW.state, NEW.reporter, NEW.added_at,"
    "   NEW.added_run, NEW.last_run, NEW.closed_at, NEW.closed_run, NEW.reopened_from,"
    "   NEW.sealed);"
    " END;"
    "CREATE TRIGGER ticket_items_update INSTEAD OF UPDATE ON ticket_items BEGIN"
    "  UPDATE ticket_item_rows SET id = NEW.id, ticket_id = NEW.ticket_id,"
    "   dataset = NEW.dataset, rule = NEW.rule, record_ref = NEW.record_ref, field = NEW.field,"
    "   state = NEW.state, reporter = NEW.reporter, added_at = NEW.added_at,"
    "   added_run = NEW.added_run, last_run = NEW.last_run, closed_at = NEW.closed_at,"
    "   closed_run = NEW.closed_run, reopened_from = NEW.reopened_from"
    "   WHERE id = OLD.id;"
    "  UPDATE ticket_item_rows SET record_key = NEW.record_key, value = NEW.value,"
    "   message = NEW.message, row_no = NEW.row_no, sealed = NEW.sealed, finding = NULL,"
    "   digest = NULL"
    "   WHERE id = NEW.id AND (NEW.record_key IS NOT OLD.record_key"
    "   OR NEW.value IS NOT OLD.value OR NEW.message IS NOT OLD.message"
    "   OR NEW.row_no IS NOT OLD.row_no OR NEW.sealed IS NOT OLD.sealed);"
    " END;"
    "CREATE TRIGGER ticket_items_delete INSTEAD OF DELETE ON ticket_items BEGIN"
    "  DELETE FROM ticket_item_rows WHERE id = OLD.id;"
    " END;"
    "DROP TRIGGER findings_delete;"
    "CREATE TRIGGER findings_delete INSTEAD OF DELETE ON findings BEGIN"
    "  UPDATE ticket_item_rows SET (record_key, value, message, row_no, sealed, finding, digest)"
    "   = (SELECT CASE WHEN f.record_key <> '' THEN f.record_key END, f.value,"
    "   CASE WHEN f.message <> '' THEN f.message END, f.row_no,"
    "   CASE WHEN length(f.sealed) > 0 THEN f.sealed END, NULL, NULL"
    "   FROM finding_rows f WHERE f.id = OLD.id)"
    "   WHERE finding = OLD.id;"
    "  DELETE FROM finding_refs WHERE id = OLD.id"
    "   AND run = (SELECT run FROM finding_rows WHERE id = OLD.id)"
    "   AND kind = (SELECT kind FROM finding_rows WHERE id = OLD.id)"
    "   AND record_ref = (SELECT record_ref FROM finding_rows WHERE id = OLD.id);"
    "  DELETE FROM finding_rows WHERE id = OLD.id;"
    " END;";

/* 18: a narrower ticket item. An item's dataset and rule become one
 * integer kind (item_kinds: one row per (dataset, rule), the field kept
 * apart as text in the item, so the UNIQUE rule stays one open item per
 * dataset, rule and record whatever the field), and its run ids
 * (added_run, last_run, closed_run) integers naming finding_runs rows, as
 * the findings' do (step 11); added_at is NULL when it is its added run's
 * own time (runs.as_of). A separate small table rather than finding_kinds
 * rows with field NULL: finding_kinds has no UNIQUE key (a rule with no
 * field already has such a row, and the same (dataset, rule) may appear
 * under several fields), so a kind of (dataset, rule) would not be one row.
 * Neither runs nor finding_runs rows are ever deleted (pruning deletes
 * finding_rows and finding_refs only), so every id an item names stays
 * resolvable. Every kind and run an item can name is there before the item
 * is written: a ticket's (dataset, rule) is an item kind from the ticket's
 * INSERT (tickets_item_kind), a run's id a finding_runs row from the run's
 * INSERT (runs_finding_run; the findings writer's INSERT OR IGNORE keeps
 * working), and the view's triggers add what a write through the view
 * names. `ticket_items` stays a view with exactly step 17's columns and
 * values (texts, NULLs, types); its INSTEAD OF triggers map texts to ids;
 * an INSERT or UPDATE with added_at NULL is refused as the NOT NULL column
 * refused it. The items are copied in id order, the table rebuilt, both
 * indexes made again (the record index keyed (record_ref, kind, open key):
 * the same UNIQUE rule, loop/ticket_private.h's TK_ITEM_OPEN_KEY last). The
 * `findings_delete` trigger names only columns kept; it is dropped while
 * the table is (a rename checks every trigger) and made again as step 17
 * made it. */
static const char step18_items_narrow[] =
    "CREATE TABLE item_kinds(id INTEGER PRIMARY KEY, dataset TEXT NOT NULL, rule TEXT NOT NULL,"
    "  UNIQUE(dataset, rule));"
    "INSERT INTO item_kinds(dataset, rule) SELECT dataset, rule FROM"
    "  (SELECT dataset, rule, id FROM ticket_item_rows UNION ALL"
    "  SELECT dataset, rule, (SELECT max(id) FROM ticket_item_rows) + id FROM tickets)"
    "  GROUP BY dataset, rule ORDER BY min(id);"
    "INSERT OR IGNORE INTO finding_runs(run_id) SELECT r FROM"
    "  (SELECT added_run AS r, id, 1 AS c FROM ticket_item_rows UNION ALL"
    "  SELECT last_run, id, 2 FROM ticket_item_rows UNION ALL"
    "  SELECT closed_run, id, 3 FROM ticket_item_rows)"
    "  WHERE r IS NOT NULL ORDER BY id, c;"
    "INSERT OR IGNORE INTO finding_runs(run_id) SELECT id FROM runs ORDER BY started_at, id;"
    "CREATE TABLE ticket_item_rows_18(id INTEGER PRIMARY KEY,"
    "  ticket_id INTEGER NOT NULL REFERENCES tickets(id), kind INTEGER NOT NULL,"
    "  record_ref TEXT NOT NULL, record_key TEXT, field TEXT, value TEXT, message TEXT,"
    "  row_no INTEGER, state TEXT NOT NULL"
    "   CHECK(state = 'open' OR state = 'missing' OR state = 'fixed' OR state = 'closed'),"
    "  reporter TEXT, added_at TEXT, added_run INTEGER, last_run INTEGER, closed_at TEXT,"
    "  closed_run INTEGER, reopened_from INTEGER, sealed BLOB, finding INTEGER, digest INTEGER);"
    "INSERT INTO ticket_item_rows_18(id, ticket_id, kind, record_ref, record_key, field, value,"
    "  message, row_no, state, reporter, added_at, added_run, last_run, closed_at, closed_run,"
    "  reopened_from, sealed, finding, digest)"
    "  SELECT i.id, i.ticket_id, k.id, i.record_ref, i.record_key, i.field, i.value, i.message,"
    "  i.row_no, i.state, i.reporter,"
    "  CASE WHEN i.added_at IS (SELECT u.as_of FROM runs u WHERE u.id = i.added_run)"
    "  THEN NULL ELSE i.added_at END,"
    "  ra.id, rl.id, i.closed_at, rc.id, i.reopened_from, i.sealed, i.finding, i.digest"
    "  FROM ticket_item_rows i CROSS JOIN item_kinds k ON k.dataset = i.dataset AND k.rule = i.rule"
    "  LEFT JOIN finding_runs ra ON ra.run_id = i.added_run"
    "  LEFT JOIN finding_runs rl ON rl.run_id = i.last_run"
    "  LEFT JOIN finding_runs rc ON rc.run_id = i.closed_run ORDER BY i.id;"
    "DROP VIEW ticket_items;"
    "DROP TRIGGER findings_delete;"
    "DROP TABLE ticket_item_rows;"
    "ALTER TABLE ticket_item_rows_18 RENAME TO ticket_item_rows;"
    "CREATE INDEX ticket_items_ticket ON ticket_item_rows(ticket_id, state);"
    "CREATE UNIQUE INDEX ticket_items_record ON ticket_item_rows(record_ref, kind,"
    "  (CASE WHEN state IN ('open','missing') THEN 0 ELSE id END));"
    "CREATE TRIGGER tickets_item_kind AFTER INSERT ON tickets BEGIN"
    "  INSERT OR IGNORE INTO item_kinds(dataset, rule) VALUES(NEW.dataset, NEW.rule);"
    " END;"
    "CREATE TRIGGER runs_finding_run AFTER INSERT ON runs BEGIN"
    "  INSERT OR IGNORE INTO finding_runs(run_id) VALUES(NEW.id);"
    " END;"
    "CREATE VIEW ticket_items(id, ticket_id, dataset, rule, record_ref, record_key, field, value,"
    "  message, row_no, state, reporter, added_at, added_run, last_run, closed_at, closed_run,"
    "  reopened_from, sealed) AS"
    "  SELECT i.id, i.ticket_id, k.dataset, k.rule, i.record_ref,"
    "  CASE WHEN i.finding IS NULL THEN i.record_key WHEN f.record_key <> '' THEN f.record_key END,"
    "  i.field, CASE WHEN i.finding IS NULL THEN i.value ELSE f.value END,"
    "  CASE WHEN i.finding IS NULL THEN i.message WHEN f.message <> '' THEN f.message END,"
    "  CASE WHEN i.finding IS NULL THEN i.row_no ELSE f.row_no END,"
    "  i.state, i.reporter,"
    "  CASE WHEN i.added_at IS NULL THEN (SELECT u.as_of FROM runs u WHERE u.id = ra.run_id)"
    "  ELSE i.added_at END, ra.run_id, rl.run_id, i.closed_at, rc.run_id,"
    "  i.reopened_from,"
    "  CASE WHEN i.finding IS NULL THEN i.sealed WHEN length(f.sealed) > 0 THEN f.sealed END"
    "  FROM ticket_item_rows i CROSS JOIN item_kinds k ON k.id = i.kind"
    "  LEFT JOIN finding_runs ra ON ra.id = i.added_run"
    "  LEFT JOIN finding_runs rl ON rl.id = i.last_run"
    "  LEFT JOIN finding_runs rc ON rc.id = i.closed_run"
    "  LEFT JOIN finding_rows f ON f.id = i.finding;"
    "CREATE TRIGGER ticket_items_insert INSTEAD OF INSERT ON ticket_items BEGIN"
    "  SELECT RAISE(ABORT, 'NOT NULL constraint failed: ticket_items.added_at')"
    "   WHERE NEW.added_at IS NULL;"
    "  INSERT OR IGNORE INTO item_kinds(dataset, rule) VALUES(NEW.dataset, NEW.rule);"
    "  INSERT OR IGNORE INTO finding_runs(run_id) SELECT r FROM (SELECT NEW.added_run AS r, 1 AS c"
    "   UNION ALL SELECT NEW.last_run, 2 UNION ALL SELECT NEW.closed_run, 3)"
    "   WHERE r IS NOT NULL ORDER BY c;"
    "  INSERT INTO ticket_item_rows(id, ticket_id, kind, record_ref, record_key, field, value,"
    "   message, row_no, state, reporter, added_at, added_run, last_run, closed_at, closed_run,"
    "   reopened_from, sealed)"
    "   VALUES(NEW.id, NEW.ticket_id,"
    "   (SELECT id FROM item_kinds WHERE dataset = NEW.dataset AND rule = NEW.rule),"
    "   NEW.record_ref, NEW.record_key, NEW.field, NEW.value, NEW.message, NEW.row_no, NEW.state,"
    "   NEW.reporter, CASE WHEN NEW.added_at IS (SELECT u.as_of FROM runs u"
    "   WHERE u.id = NEW.added_run) THEN NULL ELSE NEW.added_at END,"
    "   (SELECT id FROM finding_runs WHERE run_id = NEW.added_run),"
    "   (SELECT id FROM finding_runs WHERE run_id = NEW.last_run), NEW.closed_at,"
    "   (SELECT id FROM finding_runs WHERE run_id = NEW.closed_run), NEW.reopened_from,"
    "   NEW.sealed);"
    " END;"
    "CREATE TRIGGER ticket_items_update INSTEAD OF UPDATE ON ticket_items BEGIN"
    "  SELECT RAISE(ABORT, 'NOT NULL constraint failed: ticket_items.added_at')"
    "   WHERE NEW.added_at IS NULL;"
    "  INSERT OR IGNORE INTO item_kinds(dataset, rule) VALUES(NEW.dataset, NEW.rule);"
    "  INSERT OR IGNORE INTO finding_runs(run_id) SELECT r FROM (SELECT NEW.added_run AS r, 1 AS c"
    "   UNION ALL SELECT NEW.last_run, 2 UNION ALL SELECT NEW.closed_run, 3)"
    "   WHERE r IS NOT NULL ORDER BY c;"
    "  UPDATE ticket_item_rows SET id = NEW.id, ticket_id = NEW.ticket_id,"
    "   kind = (SELECT id FROM item_kinds WHERE dataset = NEW.dataset AND rule = NEW.rule),"
    "   record_ref = NEW.record_ref, field = NEW.field,"
    "   state = NEW.state, reporter = NEW.reporter,"
    "   added_at = CASE WHEN NEW.added_at IS (SELECT u.as_of FROM runs u"
    "   WHERE u.id = NEW.added_run) THEN NULL ELSE NEW.added_at END,"
    "   added_run = (SELECT id FROM finding_runs WHERE run_id = NEW.added_run),"
    "   last_run = (SELECT id FROM finding_runs WHERE run_id = NEW.last_run),"
    "   closed_at = NEW.closed_at,"
    "   closed_run = (SELECT id FROM finding_runs WHERE run_id = NEW.closed_run),"
    "   reopened_from = NEW.reopened_from"
    "   WHERE id = OLD.id;"
    "  UPDATE ticket_item_rows SET record_key = NEW.record_key, value = NEW.value,"
    "   message = NEW.message, row_no = NEW.row_no, sealed = NEW.sealed, finding = NULL,"
    "   digest = NULL"
    "   WHERE id = NEW.id AND (NEW.record_key IS NOT OLD.record_key"
    "   OR NEW.value IS NOT OLD.value OR NEW.message IS NOT OLD.message"
    "   OR NEW.row_no IS NOT OLD.row_no OR NEW.sealed IS NOT OLD.sealed);"
    " END;"
    "CREATE TRIGGER ticket_items_delete INSTEAD OF DELETE ON ticket_items BEGIN"
    "  DELETE FROM ticket_item_rows WHERE id = OLD.id;"
    " END;"
    "CREATE TRIGGER findings_delete INSTEAD OF DELETE ON findings BEGIN"
    "  UPDATE ticket_item_rows SET (record_key, value, message, row_no, sealed, finding, digest)"
    "   = (SELECT CASE WHEN f.record_key <> '' THEN f.record_key END, f.value,"
    "   CASE WHEN f.message <> '' THEN f.message END, f.row_no,"
    "   CASE WHEN length(f.sealed) > 0 THEN f.sealed END, NULL, NULL"
    "   FROM finding_rows f WHERE f.id = OLD.id)"
    "   WHERE finding = OLD.id;"
    "  DELETE FROM finding_refs WHERE id = OLD.id"
    "   AND run = (SELECT run FROM finding_rows WHERE id = OLD.id)"
    "   AND kind = (SELECT kind FROM finding_rows WHERE id = OLD.id)"
    "   AND record_ref = (SELECT record_ref FROM finding_rows WHERE id = OLD.id);"
    "  DELETE FROM finding_rows WHERE id = OLD.id;"
    " END;";

/* 19: the items' keys by record in a table of their own. A first night of
 * many items dropped step 18's UNIQUE index ticket_items_record and made it
 * again before the run committed (loop/ticket_items.c): SQLite read every
 * item back, sorted the keys and wrote the index (W1 10M night 1, 1.8M
 * keys: 3.0-3.4 s on one core under load). As step 14 did for the
 * findings, the index becomes a WITHOUT ROWID table, ticket_item_refs,
 * with the same keys —
 * (record_ref, kind, open_key), open_key 0 for an open or missing item and
 * the item's id otherwise (loop/ticket_private.h's TK_ITEM_OPEN_KEY) — as
 * its primary key, so it keeps the same UNIQUE rule (at most one open or
 * missing item per dataset, rule and record), and the item's id beside
 * them. The readers that used the index read it instead (the lookups of
 * one record's items, the re-check's scan of open refs).
 *
 * Triggers on ticket_item_rows keep it in step with every write, whoever
 * makes it (the loop, the `ticket_items` view's triggers, pruning, a
 * shell): an inserted item adds its entry; an update of an item's id,
 * kind, record_ref or state that changes its key moves the entry (deleted
 * by its old key and id, added by its new key: a second open item of a
 * record fails there, as the index refused it); a deleted item takes its
 * entry with it. The one exception is a first night's bulk of items
 * (loop/ticket_item_refs.c): inside the run's transaction it drops the
 * insert trigger, inserts its items, writes their entries itself in key
 * order, sorted in memory, so that the table's B-tree is only appended to,
 * and makes the trigger again from its stored SQL, as it dropped and made
 * again the index before (a failure or a crash rolls the trigger back with
 * the items). The `ticket_items` view and its triggers are unchanged. An
 * existing store's entries are copied in key order (read from the old
 * index, which then goes). */
static const char step19_item_refs[] =
    "CREATE TABLE ticket_item_refs(record_ref TEXT NOT NULL, kind INTEGER NOT NULL,"
    "  open_key INTEGER NOT NULL, id INTEGER NOT NULL, PRIMARY KEY(record_ref, kind, open_key))"
    "  WITHOUT ROWID;"
    "INSERT INTO ticket_item_refs(record_ref, kind, open_key, id)"
    "  SELECT record_ref, kind, CASE WHEN state IN ('open','missing') THEN 0 ELSE id END, id"
    "  FROM ticket_item_rows INDEXED BY ticket_items_record"
    "  ORDER BY record_ref, kind, (CASE WHEN state IN ('open','missing') THEN 0 ELSE id END);"
    "DROP INDEX ticket_items_record;"
    "CREATE TRIGGER ticket_item_refs_insert AFTER INSERT ON ticket_item_rows BEGIN"
    "  INSERT INTO ticket_item_refs(record_ref, kind, open_key, id) VALUES(NEW.record_ref,"
    "   NEW.kind, CASE WHEN NEW.state IN ('open','missing') THEN 0 ELSE NEW.id END, NEW.id);"
    " END;"
    "CREATE TRIGGER ticket_item_refs_update AFTER UPDATE OF id, kind, record_ref, state"
    "  ON ticket_item_rows WHEN NEW.id IS NOT OLD.id OR NEW.kind IS NOT OLD.kind"
    "  OR NEW.record_ref IS NOT OLD.record_ref"
    "  OR (NEW.state IN ('open','missing')) IS NOT (OLD.state IN ('open','missing')) BEGIN"
    "  DELETE FROM ticket_item_refs WHERE record_ref = OLD.record_ref AND kind = OLD.kind"
    "   AND open_key = CASE WHEN OLD.state IN ('open','missing') THEN 0 ELSE OLD.id END"
    "   AND id = OLD.id;"
    "  INSERT INTO ticket_item_refs(record_ref, kind, open_key, id) VALUES(NEW.record_ref,"
    "   NEW.kind, CASE WHEN NEW.state IN ('open','missing') THEN 0 ELSE NEW.id END, NEW.id);"
    " END;"
    "CREATE TRIGGER ticket_item_refs_delete AFTER DELETE ON ticket_item_rows BEGIN"
    "  DELETE FROM ticket_item_refs WHERE record_ref = OLD.record_ref AND kind = OLD.kind"
    "   AND open_key = CASE WHEN OLD.state IN ('open','missing') THEN 0 ELSE OLD.id END"
    "   AND id = OLD.id;"
    " END;";

const struct store_step store_steps[] = {
    {1, "core", step1_core},
    {2, "audit", step2_audit},
    {3, "tickets", step3_tickets},
    {4, "catalog", step4_catalog},
    {5, "report_published", step5_report_published},
    {6, "identity", step6_identity},
    {7, "ticket_policies", step7_ticket_policies},
    {8, "parts", step8_parts},
    {9, "keyed_audit", step9_keyed_audit},
    {10, "idempotency", step10_idempotency},
    {11, "compact_findings", step11_compact_findings},
    {12, "items_by_record", step12_items_by_record},
    {13, "items_check", step13_items_check},
    {14, "finding_refs", step14_finding_refs},
    {15, "verdict_memo", step15_verdict_memo},
    {16, "items_by_ref", step16_items_by_ref},
    {17, "items_name_findings", step17_items_name_findings},
    {18, "items_narrow", step18_items_narrow},
    {19, "item_refs", step19_item_refs},
};
const int store_nsteps = (int)(sizeof store_steps / sizeof store_steps[0]);
