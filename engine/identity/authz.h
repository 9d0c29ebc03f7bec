/*
 * authz.h — who may do what: THE authorisation function of qloop.
 *
 * Every action on a ticket (the command line now, the portal and its API
 * next), every reveal of a record, the annual report, the scorecards and the
 * management of users and departments ask ident_allowed(), giving the actor,
 * the action and the facts of the ticket (its department, the approver its
 * policy names, who asked for the pending extension and from which
 * department, who filed it). Department scoping — which tickets a user may
 * see, answer or reveal — is decided here and nowhere else: a list of
 * tickets is the tickets for which ident_allowed(IDENT_VIEW) says yes.
 *
 * The roles × actions table (CONTRACT.md "Identity, roles and the portal"):
 *
 *   action       admin steward approver      provider   reporter/system leader
 *   view         all   all     (see below)   own dept   filed by own dept  -
 *   feedback     yes   yes     -             -          -                  -
 *   resolve      yes   -       -             own dept   -                  -
 *   extend       yes   -       -             own dept   -                  -
 *   approve/     yes   -       bureau: of the bureau;   -                  -
 *    reject                    provider_head: of the ticket's department
 *   verify       yes   yes     -             -          -                  -
 *   file         yes   yes     -             -          yes                -
 *   import       yes   yes     -             -          system only        -
 *   reveal       yes   -       -             own dept   -                  -
 *   annual       yes   yes     -             -          -                  yes
 *   scorecard    yes   yes     -             own dept   -                  yes
 *   manage       yes   -       -             -          -                  -
 *
 * An approver sees the tickets it could decide on: those of its own
 * department and, in the bureau, every ticket whose policy names the bureau.
 * A reporter or system sees the tickets it, or someone of its department,
 * filed (masked). Separation of duties, whatever the role (admin included):
 * nobody decides on an extension they asked for, and under a `bureau`
 * policy nobody of the requesting department decides on it. A disabled user
 * may do nothing.
 *
 * A store with no users is run by one trusted operator whose --actor is free
 * text: every action is allowed except deciding on an extension when the
 * actor is named as the ticket's own department or is who asked for it, and
 * revealing records (shown unmasked only to a registered provider or admin).
 */
#ifndef QLOOP_AUTHZ_H
#define QLOOP_AUTHZ_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "identity/identity.h"

enum ident_action {
    IDENT_VIEW,      /* see a ticket (and list it) */
    IDENT_FEEDBACK,  /* hand it over to the provider (发现 → 反馈) */
    IDENT_RESOLVE,   /* the provider's answer */
    IDENT_EXTEND,    /* ask for more time */
    IDENT_APPROVE,   /* decide on the request: yes */
    IDENT_REJECT,    /* decide on the request: no */
    IDENT_VERIFY,    /* a person's re-check */
    IDENT_FILE,      /* report a problem by hand (系统填报) */
    IDENT_IMPORT,    /* reports by interface (接口对接) */
    IDENT_REVEAL,    /* see a ticket's records unmasked */
    IDENT_ANNUAL,    /* the annual assessment */
    IDENT_SCORECARD, /* a department's scorecard */
    IDENT_MANAGE,    /* users and departments */
    IDENT_NACTIONS
};

/* The action's word ("approve") and its Chinese name ("批准延期"). */
const char *ident_action_name(enum ident_action a);
const char *ident_action_zh(enum ident_action a);

/* Who acts: a user of the store, or the single trusted operator of a store
 * with no users. */
struct ident_actor {
    bool operator;         /* a store with no users; login is the free-text --actor */
    char login[256];       /* the user's login, or the operator's text */
    enum ident_role role;  /* unused for the operator */
    char dept[256];        /* the user's department, "" for none */
    bool bureau;           /* that department is the bureau */
    bool active;
};

/* Someone who filed a report into a ticket, and their department. */
struct ident_filer {
    const char *login;
    const char *dept; /* NULL or "" when unknown / none */
};

/* What the decision needs to know of the ticket (all may be NULL when the
 * action concerns no ticket). For file and import, dept is the dataset's
 * owner; for a scorecard, the scorecard's department. */
struct ident_facts {
    const char *dept;      /* the ticket's department (数源部门) */
    const char *approver;  /* its policy's approver role: "bureau", "provider_head" */
    const char *ext_actor; /* who asked for the pending extension; NULL: none pending */
    const char *ext_dept;  /* the requester's department; NULL: unknown (then dept counts) */
    const struct ident_filer *filers; /* who filed reports into it */
    size_t nfilers;
};

/* Whether actor a may do action on a ticket with facts t (NULL: no ticket).
 * Returns true, or false with why (a Chinese sentence saying who may do it
 * instead) written into why (may be NULL). Pure: reads nothing else. */
bool ident_allowed(const struct ident_actor *a, enum ident_action action,
                   const struct ident_facts *t, char *why, size_t whysize);

/* Whether a may act at all — the operator, or an active user — for what
 * asks before it has a ticket (a list). 0, or -1 with err (exit 2,
 * QLOOP_REFUSED_DENIED). */
int ident_require_active(const struct ident_actor *a, struct qloop_error *err);

/* The actor for a command-line --actor: in a store with no users, the
 * operator named text (which must be non-empty text); once a user exists,
 * the user whose login is text — an unknown login is refused (input error),
 * a disabled one is returned inactive (ident_allowed refuses it everything).
 * Returns 0 or -1 with err. */
int ident_actor_resolve(sqlite3 *db, const char *text, struct ident_actor *out,
                        struct qloop_error *err);

/* The actor for a user (signed in or found by ident_user_find). */
void ident_actor_of_user(const struct ident_user *u, struct ident_actor *out);

/* ident_allowed, turning a refusal into an input error (exit 2) whose
 * message is the reason, prefixed by what is refused ("工单 12：") when
 * subject is not NULL, marked QLOOP_REFUSED_DENIED (error.h). Returns 0 or
 * -1. */
int ident_require(const struct ident_actor *a, enum ident_action action,
                  const struct ident_facts *t, const char *subject, struct qloop_error *err);

#endif
