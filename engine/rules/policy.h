/*
 * policy.h — the deadline policies of the closed loop, read from Lua files.
 *
 * A policy says how long a provider department has to answer a ticket, how
 * far an extension may reach and who approves it, whether runs hand new
 * tickets straight to the provider and whether tickets filed by hand go
 * there too, whether urgent tickets carry their own deadline, and when a
 * reminder is due. The shipped ones are
 * rules/policies/ningbo.lua (the default, 宁波市公共数据管理办法 第二十七条)
 * and rules/policies/wenzhou.lua (温州 第二十三条); the format is documented
 * in those files. A policy file is evaluated in the rule sandbox (lua_host.h)
 * and either returns a table or calls `policy { ... }` once.
 *
 * Times are seconds since the epoch; days are qloop_days_from_civil() numbers
 * of Asia/Shanghai civil dates. A period counted in days ends at the end of
 * its last day (23:59:59 Shanghai).
 */
#ifndef QLOOP_POLICY_H
#define QLOOP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct qloop_policy {
    char name[64];              /* "ningbo", "wenzhou", or the file's own name */
    char basis[256];            /* legal basis, shown in messages */
    char path[1024];            /* file it was read from; "" for the built-in default */
    int response_days;          /* the answer period, from receipt (receipt day not counted) */
    bool response_natural;      /* true: natural days; false: working days */
    int extension_days;         /* how far an extension may reach; 0: no extension */
    bool extension_natural;     /* true: natural days; false: working days */
    bool extension_from_receipt; /* true: counted from receipt; false: from the base deadline */
    char approver_role[32];     /* "bureau" or "provider_head" (or the file's own word) */
    char approver[128];         /* who approves extensions, shown to users */
    bool auto_feedback;         /* runs hand new tickets straight to feedback */
    bool urgent_own_deadline;   /* `feedback --urgent --deadline` is allowed */
    int reminder_days;          /* remind this many working days before the deadline; 0: never */
    bool hand_filed_feedback;   /* a ticket filed by hand (系统填报, 接口对接) goes straight to
                                   feedback (hand_filed = "feedback"); false: it waits in
                                   discovered for the steward (the default) */
};

/* Fills p with the built-in default, identical to rules/policies/ningbo.lua
 * (a unit test keeps the two equal). */
void policy_default(struct qloop_policy *p);

/* Reads the policy file at path (NULL: the built-in default) into p. Returns
 * 0, or -1 with err naming the file (and line, when Lua reports one) and what
 * to fix; p is then the default. */
int policy_load(const char *path, struct qloop_policy *p, struct qloop_error *err);

/* Turns a `--policy` argument into a file path. A spec containing '/' or
 * ending in ".lua" is a file and is used as given; otherwise it is a NAME
 * ([A-Za-z0-9_-]) looked up as NAME.lua in $QLOOP_POLICY_DIR (when set), then
 * in DATA_DIR/policies (the installed copies; data_dir may be NULL), then among the
 * policies compiled into the binary (out is then "builtin:NAME", which
 * policy_load understands). Returns 0 with the path in out, or -1 with err
 * saying where it looked. */
int policy_resolve(const char *spec, const char *data_dir, char *out, size_t size,
                   struct qloop_error *err);

/* policy_resolve + policy_load; spec NULL or "" gives the built-in default. */
int policy_load_spec(const char *spec, const char *data_dir, struct qloop_policy *p,
                     struct qloop_error *err);

/* The policy p as canonical JSON text (malloc'd; keys in a fixed order,
 * every field but path), so that a ticket can keep the policy it was opened
 * under for its whole life (loop/ticket_policy.c): equal policies give equal
 * text. NULL when out of memory. */
char *policy_to_json(const struct qloop_policy *p);

/* Reads text written by policy_to_json into p. Returns 0, or -1 with err
 * when text is not such a policy (p is then the default). */
int policy_from_json(const char *text, struct qloop_policy *p, struct qloop_error *err);

/* The Shanghai civil day of t, and the last second (23:59:59) of a day. */
int64_t policy_day_of(int64_t t);
int64_t policy_end_of_day(int64_t day);

/* The deadline of a ticket received at `received`: the end of the last day of
 * the response period (the day of receipt not counted). */
int64_t policy_deadline(const struct qloop_policy *p, int64_t received);

/* The latest deadline an extension may reach for a ticket received at
 * `received` whose deadline before any extension was base_deadline; never
 * earlier than base_deadline. */
int64_t policy_extension_cap(const struct qloop_policy *p, int64_t received, int64_t base_deadline);

/* Writes how the cap is counted, e.g. "自接收之日起 60 个自然日（逢非工作日顺延）". */
void policy_extension_rule(const struct qloop_policy *p, char *out, size_t size);

/* Whether a reminder is due at now for a deadline: now not past it and at
 * most reminder_days working days left before it. */
bool policy_reminder_due(const struct qloop_policy *p, int64_t deadline, int64_t now);

#endif
