/*
 * lib_string.c — string.find, string.match, string.gmatch and string.gsub
 * with their work charged to the call's instruction budget.
 *
 * Lua's own pattern functions run in C, where no hook reaches them: a pattern
 * such as ".-.-.-.-.-b" over 300,000 characters, or the trim idiom
 * "^%s*(.-)%s*$" over a long run of spaces, runs for minutes and nothing can
 * stop it. This file implements the same pattern language (Lua 5.4 manual
 * §6.4.1: classes, sets, the four repetitions, captures and position
 * captures, back-references, %b, %f, anchors) with the same results, and
 * counts its steps: every attempt to match a pattern item at a position, every
 * character a repetition scans and every candidate of a plain search is one
 * step, charged as one instruction every STEP_CHUNK steps (qloop_host_charge).
 * So a pathological pattern ends like an endless loop does — "the rule is out
 * of its instruction budget", an error of that rule on that record — and the
 * CPU-time budget is checked at the same points. tests/unit/test_lua_string.c
 * compares every function with Lua's own over a table of cases, and the fuzz
 * target tests/fuzz/fuzz_rules.c does so on random patterns.
 *
 * A pattern without repetitions (single characters, classes, sets,
 * captures) runs from a compiled item list instead (see "fixed-width
 * patterns" below), counting the same: in find, match, gmatch, and gsub with
 * a text replacement.
 *
 * The sandbox puts these four functions in place of Lua's in the string table
 * before it becomes read-only (env.c), so s:match(...) uses them too.
 */
#include <ctype.h>
#include <lauxlib.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lua/host.h"

enum {
    MAX_CAPTURES = 32,   /* LUA_MAXCAPTURES */
    MAX_DEPTH = 200,     /* nested pattern items before "pattern too complex" */
    STEP_CHUNK = 1024,   /* steps charged at a time */
    CAP_OPEN = -1,       /* a capture still open */
    CAP_POS = -2,        /* a position capture "()" */
};

struct capture {
    const char *at;
    ptrdiff_t len;       /* or CAP_OPEN, CAP_POS */
};

struct matcher {
    lua_State *L;
    const char *s0, *s_end; /* the subject */
    const char *p_end;      /* end of the pattern */
    int depth;              /* nesting left */
    int ncap;
    long steps;             /* not yet charged */
    struct capture cap[MAX_CAPTURES];
};

static void charge(struct matcher *m)
{
    long n = m->steps;
    m->steps = 0;
    qloop_host_charge(m->L, n);
}

static inline void step(struct matcher *m)
{
    if (++m->steps >= STEP_CHUNK)
        charge(m);
}

static void matcher_init(struct matcher *m, lua_State *L, const char *s, size_t ls,
                         const char *p, size_t lp)
{
    m->L = L;
    m->s0 = s;
    m->s_end = s + ls;
    m->p_end = p + lp;
    m->steps = 0;
}

static void matcher_reset(struct matcher *m)
{
    m->ncap = 0;
    m->depth = MAX_DEPTH;
}

/* The character classes: for each byte the classes it belongs to (bits), and
 * for each class letter (either case) its bit. Built once from <ctype.h>, in
 * the process's locale as set before the first state (cli/main.c), so the
 * classes are those Lua's own patterns would see; a table lookup instead of
 * a switch and three calls into the C library per character. */
enum {
    CL_A = 1 << 0, CL_C = 1 << 1, CL_D = 1 << 2, CL_G = 1 << 3, CL_L = 1 << 4, CL_P = 1 << 5,
    CL_S = 1 << 6, CL_U = 1 << 7, CL_W = 1 << 8, CL_X = 1 << 9, CL_Z = 1 << 10,
};
static uint16_t byte_classes[256], letter_class[256];
static uint32_t class_set[11][8]; /* each class's bytes as bits (fixed-width patterns) */
static pthread_once_t classes_once = PTHREAD_ONCE_INIT;

static void build_classes(void)
{
    for (int c = 0; c < 256; c++) {
        uint16_t b = 0;
        b |= isalpha(c) ? CL_A : 0;
        b |= iscntrl(c) ? CL_C : 0;
        b |= isdigit(c) ? CL_D : 0;
        b |= isgraph(c) ? CL_G : 0;
        b |= islower(c) ? CL_L : 0;
        b |= ispunct(c) ? CL_P : 0;
        b |= isspace(c) ? CL_S : 0;
        b |= isupper(c) ? CL_U : 0;
        b |= isalnum(c) ? CL_W : 0;
        b |= isxdigit(c) ? CL_X : 0;
        b |= c == 0 ? CL_Z : 0; /* %z: deprecated, still accepted by Lua 5.4 */
        byte_classes[c] = b;
    }
    static const char letters[] = "acdglpsuwxz";
    for (int i = 0; letters[i]; i++) {
        int l = (unsigned char)letters[i];
        letter_class[l] = letter_class[toupper(l)] = (uint16_t)(1u << i);
        for (int c = 0; c < 256; c++)
            if (byte_classes[c] & (1u << i))
                class_set[i][c >> 5] |= 1u << (c & 31);
    }
}

/* Does byte c belong to class letter cl (%a, %d, ... or their complements)?
 * Any other letter stands for itself. */
static inline int in_class(int c, int cl)
{
    unsigned bit = letter_class[cl];
    if (!bit)
        return cl == c;
    int r = (byte_classes[c] & bit) != 0;
    return cl < 'a' ? !r : r; /* an upper-case letter: the complement */
}

/* Does c belong to the set [ ... ] spanning p .. close (close at its ']')? */
static int in_set(int c, const char *p, const char *close)
{
    int want = 1;
    if (p[1] == '^') {
        want = 0;
        p++;
    }
    while (++p < close) {
        if (*p == '%') {
            p++;
            if (in_class(c, (unsigned char)*p))
                return want;
        } else if (p[1] == '-' && p + 2 < close) {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2])
                return want;
            p += 2;
        } else if ((unsigned char)*p == c) {
            return want;
        }
    }
    return !want;
}

/* The end of the single-character item at p: past "%x", past "[...]", or
 * p + 1. */
static const char *item_end(struct matcher *m, const char *p)
{
    char c = *p++;
    if (c == '%') {
        if (p == m->p_end)
            luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (*p == '^')
            p++;
        do { /* the first character is part of the set even when it is ']' */
            if (p == m->p_end)
                luaL_error(m->L, "malformed pattern (missing ']')");
            c = *p++;
            if (c == '%' && p < m->p_end)
                p++;
        } while (*p != ']');
        return p + 1;
    }
    return p;
}

/* Is c one of the repetitions that may follow an item (* + - ?)? */
static inline int is_repetition(char c) { return c == '*' || c == '+' || c == '-' || c == '?'; }

/* Does the subject byte at s match the item p .. ep? */
static int item_match(const struct matcher *m, const char *s, const char *p, const char *ep)
{
    if (s >= m->s_end)
        return 0;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.': return 1;
    case '%': return in_class(c, (unsigned char)p[1]);
    case '[': return in_set(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

static const char *do_match(struct matcher *m, const char *s, const char *p);

/* %bxy at s: the end of a balanced x ... y, or NULL. */
static const char *match_balance(struct matcher *m, const char *s, const char *p)
{
    if (p >= m->p_end - 1)
        luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (*s != *p)
        return NULL;
    char open = p[0], close = p[1];
    int level = 1;
    while (++s < m->s_end) {
        step(m);
        if (*s == close) {
            if (--level == 0)
                return s + 1;
        } else if (*s == open) {
            level++;
        }
    }
    return NULL;
}

/* item* / item+ (after its first match): longest first. */
static const char *expand_greedy(struct matcher *m, const char *s, const char *p, const char *ep)
{
    ptrdiff_t n = 0;
    while (item_match(m, s + n, p, ep)) {
        n++;
        step(m);
    }
    for (; n >= 0; n--) {
        const char *r = do_match(m, s + n, ep + 1);
        if (r)
            return r;
    }
    return NULL;
}

/* item-: shortest first. */
static const char *expand_lazy(struct matcher *m, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *r = do_match(m, s, ep + 1);
        if (r)
            return r;
        if (!item_match(m, s, p, ep))
            return NULL;
        s++;
    }
}

static const char *open_capture(struct matcher *m, const char *s, const char *p, ptrdiff_t what)
{
    if (m->ncap >= MAX_CAPTURES)
        luaL_error(m->L, "too many captures");
    m->cap[m->ncap].at = s;
    m->cap[m->ncap].len = what;
    m->ncap++;
    const char *r = do_match(m, s, p);
    if (!r)
        m->ncap--;
    return r;
}

static const char *close_capture(struct matcher *m, const char *s, const char *p)
{
    int i = m->ncap - 1;
    while (i >= 0 && m->cap[i].len != CAP_OPEN)
        i--;
    if (i < 0)
        luaL_error(m->L, "invalid pattern capture");
    m->cap[i].len = s - m->cap[i].at;
    const char *r = do_match(m, s, p);
    if (!r)
        m->cap[i].len = CAP_OPEN;
    return r;
}

/* %1 .. %9 in a pattern: the text of that (closed) capture again. */
static const char *match_backref(struct matcher *m, const char *s, int digit)
{
    int i = digit - '1';
    if (i < 0 || i >= m->ncap || m->cap[i].len == CAP_OPEN)
        luaL_error(m->L, "invalid capture index %%%d", (int)(i + 1));
    size_t len = (size_t)m->cap[i].len;
    if ((size_t)(m->s_end - s) >= len && memcmp(m->cap[i].at, s, len) == 0)
        return s + len;
    return NULL;
}

/* Matches pattern p .. p_end at subject s; returns the end of the match or
 * NULL. Tail positions loop instead of recursing. */
static const char *do_match(struct matcher *m, const char *s, const char *p)
{
    if (m->depth-- == 0)
        luaL_error(m->L, "pattern too complex");
    for (;;) {
        step(m);
        if (p == m->p_end)
            goto done;
        switch (*p) {
        case '(':
            s = p[1] == ')' ? open_capture(m, s, p + 2, CAP_POS) : open_capture(m, s, p + 1, CAP_OPEN);
            goto done;
        case ')':
            s = close_capture(m, s, p + 1);
            goto done;
        case '$':
            if (p + 1 == m->p_end) {
                if (s != m->s_end)
                    s = NULL;
                goto done;
            }
            break;
        case '%':
            if (letter_class[(unsigned char)p[1]] && !is_repetition(p[2])) {
                /* %d, %a, ... alone: the most common item, matched here */
                if (s < m->s_end && in_class((unsigned char)*s, (unsigned char)p[1])) {
                    s++;
                    p += 2;
                    continue;
                }
                s = NULL;
                goto done;
            }
            if (p[1] == 'b') {
                s = match_balance(m, s, p + 2);
                if (!s)
                    goto done;
                p += 4;
                continue;
            }
            if (p[1] == 'f') {
                p += 2;
                if (*p != '[')
                    luaL_error(m->L, "missing '[' after '%%f' in pattern");
                const char *ep = item_end(m, p);
                int before = s == m->s0 ? 0 : (unsigned char)s[-1];
                if (!in_set(before, p, ep - 1) && in_set((unsigned char)*s, p, ep - 1)) {
                    p = ep;
                    continue;
                }
                s = NULL;
                goto done;
            }
            if ((unsigned)((unsigned char)p[1] - '0') < 10u) {
                s = match_backref(m, s, (unsigned char)p[1]);
                if (!s)
                    goto done;
                p += 2;
                continue;
            }
            break;
        case '[':
            break;
        default:
            if (!is_repetition(p[1])) { /* a character or '.' alone, matched here */
                if (s < m->s_end && (*p == '.' || *s == *p)) {
                    s++;
                    p++;
                    continue;
                }
                s = NULL;
                goto done;
            }
            break;
        }
        /* a single-character item with an optional repetition */
        const char *ep = item_end(m, p);
        if (!item_match(m, s, p, ep)) {
            if (*ep == '*' || *ep == '?' || *ep == '-') {
                p = ep + 1;
                continue;
            }
            s = NULL;
            goto done;
        }
        switch (*ep) {
        case '?': {
            const char *r = do_match(m, s + 1, ep + 1);
            if (r) {
                s = r;
                goto done;
            }
            p = ep + 1;
            continue;
        }
        case '+':
            s = expand_greedy(m, s + 1, p, ep);
            goto done;
        case '*':
            s = expand_greedy(m, s, p, ep);
            goto done;
        case '-':
            s = expand_lazy(m, s, p, ep);
            goto done;
        default:
            s++;
            p = ep;
        }
    }
done:
    m->depth++;
    return s;
}

/* ---- fixed-width patterns ----
 *
 * A pattern made only of single-character items with no repetition after
 * them (a character, '.', a class such as %d or an escaped %-, a set such as
 * [0-9] or [^%s]), captures, position captures and a final '$' — no '*', '+',
 * '-', '?', %b, %f or back-reference — matches a fixed number of characters,
 * in one pass with no backtracking (W1's
 * "^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)$"). Such a pattern is
 * compiled once into the byte set of each item (built as in_class and
 * in_set read a class or a set, so each item accepts exactly the bytes
 * do_match's does) and the offset and length of each capture within the
 * match, kept in a small cache of the state by the pattern's text; find,
 * match, gmatch and gsub with a text replacement use it. One attempt tests
 * the subject's bytes against the items in turn and, on a match, sets the
 * captures from their offsets: the same match, the same captures, and the
 * same steps charged per attempt as do_match counts them (one per pattern
 * element it reaches, and one for reaching the pattern's end when it has no
 * '$'). Anything else, and any pattern do_match would reject when it reached
 * the fault (an unbalanced ')' or '(', a '%' at the end, a set with no ']',
 * more than MAX_CAPTURES captures), is not fixed and goes to do_match as
 * before. */
enum { FIXED_MAX = 64, FIXED_SLOTS = 8 };

struct fixed {
    size_t lp;  /* the pattern text[0..lp) (after a leading '^') */
    int known;  /* the slot holds a pattern */
    int ok;     /* it is fixed-width: the fields below are set */
    int width;  /* single-character items: the length of every match */
    int ncap;
    int has_end;          /* it ends with '$' */
    int steps_whole;      /* do_match's steps for a match, or a miss at the '$' */
    struct {
        int16_t at;       /* offset in the match */
        int16_t len;      /* or CAP_POS */
    } cap[MAX_CAPTURES];
    uint8_t fail_steps[FIXED_MAX]; /* do_match's steps for a miss at item k */
    /* The items' byte sets: the distinct sets of the pattern are numbered
     * (at most one per item, so at most 64), bit j of by_byte[c] tells
     * whether byte c is in set j, and item k accepts c when by_byte[c] &
     * item[k] (item[k] has the bit of its set): two loads and a test. */
    uint64_t item[FIXED_MAX];
    uint64_t by_byte[256];
    char text[FIXED_MAX];
};

/* The bytes of an item as bits (bit c of set[c >> 5]), built the way
 * item_match tests a byte (in_class, in_set, ==), so the item accepts the
 * same bytes; test_lua_string compares the results with Lua's own. */
static void one_bit(uint32_t set[8], int c)
{
    memset(set, 0, 8 * sizeof set[0]);
    set[c >> 5] = 1u << (c & 31);
}

/* Class letter cl (%a, %D, ...; any other letter or character: itself). */
static void class_bits(uint32_t set[8], int cl)
{
    unsigned bit = letter_class[cl];
    if (!bit) {
        one_bit(set, cl);
        return;
    }
    uint32_t flip = cl < 'a' ? 0xffffffffu : 0; /* an upper-case letter: the complement */
    const uint32_t *bits = class_set[__builtin_ctz(bit)];
    for (int w = 0; w < 8; w++)
        set[w] = bits[w] ^ flip;
}

/* The set p .. close (close at its ']'), walked as in_set walks it. */
static void set_bits(uint32_t set[8], const char *p, const char *close)
{
    uint32_t flip = 0, one[8];
    memset(set, 0, 8 * sizeof set[0]);
    if (p[1] == '^') {
        flip = 0xffffffffu;
        p++;
    }
    while (++p < close) {
        if (*p == '%') {
            p++;
            class_bits(one, (unsigned char)*p);
            for (int w = 0; w < 8; w++)
                set[w] |= one[w];
        } else if (p[1] == '-' && p + 2 < close) {
            for (int c = (unsigned char)p[0]; c <= (unsigned char)p[2]; c++)
                set[c >> 5] |= 1u << (c & 31);
            p += 2;
        } else {
            set[(unsigned char)*p >> 5] |= 1u << ((unsigned char)*p & 31);
        }
    }
    for (int w = 0; w < 8; w++)
        set[w] ^= flip;
}

/* The end (index of its ']') of the set that opens at p[i], as item_end reads
 * it, or 0 when item_end would raise (no ']'). */
static size_t set_end(const char *p, size_t lp, size_t i)
{
    size_t j = i + 1;
    if (j < lp && p[j] == '^')
        j++;
    do {
        if (j >= lp)
            return 0;
        char c = p[j++];
        if (c == '%' && j < lp)
            j++;
    } while (j >= lp || p[j] != ']');
    return j;
}

/* Compiles p[0..lp) into f (f->ok = 0 when it is not fixed-width). */
static void fixed_compile(struct fixed *f, const char *p, size_t lp)
{
    int open[MAX_CAPTURES], nopen = 0;
    int nops = 0; /* pattern elements so far: each is one step of do_match */
    uint32_t sets[FIXED_MAX][8]; /* the distinct byte sets: bit c of sets[j] */
    int nsets = 0;
    f->ok = 0;
    f->width = f->ncap = f->has_end = 0;
    for (size_t i = 0; i < lp;) {
        unsigned char c = (unsigned char)p[i];
        if (c == '(') {
            if (f->ncap >= MAX_CAPTURES)
                return; /* do_match raises */
            int pos = i + 1 < lp && p[i + 1] == ')';
            f->cap[f->ncap].at = (int16_t)f->width;
            f->cap[f->ncap].len = pos ? CAP_POS : CAP_OPEN;
            if (!pos)
                open[nopen++] = f->ncap;
            f->ncap++;
            nops++;
            i += pos ? 2 : 1;
            continue;
        }
        if (c == ')') {
            if (nopen == 0)
                return; /* do_match raises */
            int k = open[--nopen];
            f->cap[k].len = (int16_t)(f->width - f->cap[k].at);
            nops++;
            i++;
            continue;
        }
        if (c == '$' && i + 1 == lp) {
            f->has_end = 1;
            nops++;
            i++;
            continue;
        }
        /* one single-character item, p[i] .. p[next) */
        size_t next = i + 1, close = 0;
        if (c == '%') {
            if (i + 1 == lp)
                return; /* malformed: do_match raises */
            unsigned char d = (unsigned char)p[i + 1];
            if (d == 'b' || d == 'f' || (d >= '0' && d <= '9'))
                return;
            next = i + 2;
        } else if (c == '[') {
            close = set_end(p, lp, i);
            if (!close)
                return; /* malformed: do_match raises */
            next = close + 1;
        }
        if (next < lp && is_repetition(p[next]))
            return;
        uint32_t *set = sets[nsets];
        if (c == '.')
            memset(set, 0xff, sizeof sets[0]);
        else if (c == '%')
            class_bits(set, (unsigned char)p[i + 1]);
        else if (c == '[')
            set_bits(set, p + i, p + close);
        else
            one_bit(set, c);
        int j = 0;
        while (j < nsets && memcmp(sets[j], set, sizeof sets[0]) != 0)
            j++;
        nsets += j == nsets;
        f->item[f->width] = (uint64_t)1 << j;
        f->fail_steps[f->width++] = (uint8_t)++nops;
        i = next;
    }
    if (nopen != 0)
        return; /* an unfinished capture raises later: leave it to do_match */
    for (int c = 0; c < 256; c++) {
        uint64_t v = 0;
        for (int j = 0; j < nsets; j++)
            v |= (uint64_t)((sets[j][c >> 5] >> (c & 31)) & 1u) << j;
        f->by_byte[c] = v;
    }
    f->steps_whole = nops + !f->has_end;
    f->ok = 1;
}

/* The compiled form of p[0..lp) when it is fixed-width, or NULL. */
static const struct fixed *fixed_of(lua_State *L, const char *p, size_t lp)
{
    if (lp > FIXED_MAX)
        return NULL;
    struct qloop_host *h = qloop_host_of(L);
    if (!h->patterns) {
        h->patterns = calloc(FIXED_SLOTS, sizeof(struct fixed));
        if (!h->patterns)
            return NULL;
    }
    struct fixed *f = (struct fixed *)h->patterns + (((uintptr_t)p >> 4) ^ lp) % FIXED_SLOTS;
    if (!f->known || f->lp != lp || memcmp(f->text, p, lp) != 0) {
        memcpy(f->text, p, lp);
        f->lp = lp;
        f->known = 1;
        fixed_compile(f, p, lp);
    }
    return f->ok ? f : NULL;
}

/* One attempt of the fixed-width pattern f at s: the end of the match or
 * NULL, counting the steps do_match would (see above). */
static const char *fixed_match(struct matcher *m, const struct fixed *f, const char *s)
{
    int w = f->width, n = w;
    if (m->s_end - s < w)
        n = (int)(m->s_end - s); /* item n meets the end of the subject */
    int k = 0;
    while (k < n && (f->by_byte[(unsigned char)s[k]] & f->item[k]))
        k++;
    const char *e = s + w;
    if (k < w) {
        m->steps += f->fail_steps[k];
        e = NULL;
    } else {
        m->steps += f->steps_whole;
        if (f->has_end && e != m->s_end) {
            e = NULL;
        } else {
            for (int i = 0; i < f->ncap; i++) {
                m->cap[i].at = s + f->cap[i].at;
                m->cap[i].len = f->cap[i].len;
            }
            m->ncap = f->ncap;
        }
    }
    if (m->steps >= STEP_CHUNK)
        charge(m);
    return e;
}

/* Capture i of a match s .. e: pushes a position capture and returns
 * CAP_POS, or sets *at and returns the length. Capture 0 of a pattern without
 * captures is the whole match. */
static ptrdiff_t capture_of(struct matcher *m, int i, const char *s, const char *e,
                            const char **at)
{
    if (i >= m->ncap) {
        if (i != 0)
            luaL_error(m->L, "invalid capture index %%%d", (int)(i + 1));
        *at = s;
        return e - s;
    }
    ptrdiff_t len = m->cap[i].len;
    *at = m->cap[i].at;
    if (len == CAP_OPEN)
        luaL_error(m->L, "unfinished capture");
    if (len == CAP_POS)
        lua_pushinteger(m->L, (m->cap[i].at - m->s0) + 1);
    return len;
}

static void push_capture(struct matcher *m, int i, const char *s, const char *e)
{
    const char *at;
    ptrdiff_t len = capture_of(m, i, s, e, &at);
    if (len != CAP_POS)
        lua_pushlstring(m->L, at, (size_t)len);
}

/* Pushes the captures (or the whole match s .. e when there are none and s
 * is given); returns how many. pushed: the values the running C function has
 * pushed so far (-1: unknown); the stack is grown only when they and the
 * captures may not fit in the LUA_MINSTACK slots Lua gives a C function. */
static int push_captures(struct matcher *m, const char *s, const char *e, int pushed)
{
    int n = m->ncap == 0 && s ? 1 : m->ncap;
    if (pushed < 0 || n + pushed > LUA_MINSTACK)
        luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_capture(m, i, s, e);
    return n;
}

/* A string position argument (1-based, negative from the end) as a 1-based
 * offset in 1 .. len + 1 or beyond. */
static size_t position(lua_Integer pos, size_t len)
{
    if (pos > 0)
        return (size_t)pos;
    if (pos == 0 || pos < -(lua_Integer)len)
        return 1;
    return len + (size_t)pos + 1;
}

/* Plain search of p in s, charging a step per candidate position. */
static const char *plain_find(struct matcher *m, const char *s, size_t ls, const char *p, size_t lp)
{
    if (lp == 0)
        return s;
    if (lp > ls)
        return NULL;
    const char *end = s + (ls - lp) + 1; /* last start + 1 */
    while (s < end) {
        const char *c = memchr(s, *p, (size_t)(end - s));
        if (!c)
            return NULL;
        m->steps += 1 + (long)(lp >> 4);
        if (m->steps >= STEP_CHUNK)
            charge(m);
        if (memcmp(c + 1, p + 1, lp - 1) == 0)
            return c;
        s = c + 1;
    }
    return NULL;
}

/* Whether the pattern p[0..lp) has no magic characters. */
static int is_plain(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++)
        if (strchr("^$*+?.([%-", p[i]) && p[i] != '\0')
            return 0;
    return 1;
}

static int find_or_match(lua_State *L, int find)
{
    size_t ls, lp;
    /* luaL_checklstring and luaL_optinteger, with the common case (strings,
     * no init) asked of Lua directly: the same values and the same errors */
    const char *s = lua_tolstring(L, 1, &ls);
    if (!s)
        s = luaL_checklstring(L, 1, &ls);
    const char *p = lua_tolstring(L, 2, &lp);
    if (!p)
        p = luaL_checklstring(L, 2, &lp);
    size_t init = position(lua_type(L, 3) <= LUA_TNIL ? 1 : luaL_checkinteger(L, 3), ls) - 1;
    struct matcher m;
    matcher_init(&m, L, s, ls, p, lp);
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || is_plain(p, lp))) {
        const char *at = plain_find(&m, s + init, ls - init, p, lp);
        charge(&m);
        if (at) {
            lua_pushinteger(L, (at - s) + 1);
            lua_pushinteger(L, (lua_Integer)((size_t)(at - s) + lp));
            return 2;
        }
        luaL_pushfail(L);
        return 1;
    }
    int anchor = *p == '^';
    if (anchor) {
        p++;
        lp--;
        m.p_end = p + lp;
    }
    const struct fixed *f = fixed_of(L, p, lp);
    const char *from = s + init;
    do {
        matcher_reset(&m);
        const char *e = f ? fixed_match(&m, f, from) : do_match(&m, from, p);
        if (e) {
            charge(&m);
            if (find) {
                lua_pushinteger(L, (from - s) + 1);
                lua_pushinteger(L, e - s);
                return push_captures(&m, NULL, NULL, 2) + 2;
            }
            return push_captures(&m, from, e, 0);
        }
    } while (from++ < m.s_end && !anchor);
    charge(&m);
    luaL_pushfail(L);
    return 1;
}

static int str_find(lua_State *L) { return find_or_match(L, 1); }
static int str_match(lua_State *L) { return find_or_match(L, 0); }

struct gmatch_state {
    struct matcher m;
    const char *src, *p, *last;
};

static int gmatch_next(lua_State *L)
{
    struct gmatch_state *g = lua_touserdata(L, lua_upvalueindex(3));
    g->m.L = L;
    /* looked up per call: other patterns may take its slot in between */
    const struct fixed *f = fixed_of(L, g->p, (size_t)(g->m.p_end - g->p));
    for (const char *from = g->src; from <= g->m.s_end; from++) {
        matcher_reset(&g->m);
        const char *e = f ? fixed_match(&g->m, f, from) : do_match(&g->m, from, g->p);
        if (e && e != g->last) {
            charge(&g->m);
            g->src = g->last = e;
            return push_captures(&g->m, from, e, -1);
        }
    }
    charge(&g->m);
    return 0;
}

static int str_gmatch(lua_State *L)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = position(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2); /* the strings live on as upvalues of the iterator */
    struct gmatch_state *g = lua_newuserdatauv(L, sizeof *g, 0);
    if (init > ls)
        init = ls + 1;
    matcher_init(&g->m, L, s, ls, p, lp);
    g->src = s + init;
    g->p = p;
    g->last = NULL;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

/* Appends the replacement string (argument 3) for the match s .. e. */
static void add_template(struct matcher *m, luaL_Buffer *b, const char *s, const char *e)
{
    size_t l;
    const char *t = lua_tolstring(m->L, 3, &l);
    const char *pc;
    while ((pc = memchr(t, '%', l)) != NULL) {
        luaL_addlstring(b, t, (size_t)(pc - t));
        pc++;
        if (*pc == '%') {
            luaL_addchar(b, '%');
        } else if (*pc == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit((unsigned char)*pc)) {
            const char *at;
            ptrdiff_t len = capture_of(m, *pc - '1', s, e, &at);
            if (len == CAP_POS)
                luaL_addvalue(b);
            else
                luaL_addlstring(b, at, (size_t)len);
        } else {
            luaL_error(m->L, "invalid use of '%c' in replacement string", '%');
        }
        l -= (size_t)(pc + 1 - t);
        t = pc + 1;
    }
    luaL_addlstring(b, t, l);
}

/* Appends the replacement of the match s .. e; returns whether it differs
 * from the match. */
static int add_replacement(struct matcher *m, luaL_Buffer *b, const char *s, const char *e, int tr)
{
    lua_State *L = m->L;
    if (tr == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e, -1);
        lua_call(L, n, 1);
    } else if (tr == LUA_TTABLE) {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_template(m, b, s, e);
        return 1;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return 0;
    }
    if (!lua_isstring(L, -1))
        return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return 1;
}

static int str_gsub(lua_State *L)
{
    size_t ls, lp;
    const char *src = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int tr = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION ||
                            tr == LUA_TTABLE,
                     3, "string/function/table");
    int anchor = *p == '^';
    if (anchor) {
        p++;
        lp--;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    struct matcher m;
    matcher_init(&m, L, src, ls, p, lp);
    /* With a text replacement no Lua code runs until gsub returns, so the
     * compiled pattern keeps its cache slot; a function or a table (its
     * __index) could run string functions that take the slot. */
    const struct fixed *f = tr == LUA_TSTRING || tr == LUA_TNUMBER ? fixed_of(L, p, lp) : NULL;
    const char *last = NULL;
    lua_Integer n = 0;
    int changed = 0;
    while (n < max) {
        matcher_reset(&m);
        const char *e = f ? fixed_match(&m, f, src) : do_match(&m, src, p);
        if (e && e != last) {
            n++;
            changed |= add_replacement(&m, &b, src, e, tr);
            src = last = e;
        } else if (src < m.s_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor)
            break;
    }
    charge(&m);
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, src, (size_t)(m.s_end - src));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

static const luaL_Reg pattern_funcs[] = {
    {"find", str_find},
    {"match", str_match},
    {"gmatch", str_gmatch},
    {"gsub", str_gsub},
    {NULL, NULL},
};

void qloop_string_patterns(lua_State *L, int idx)
{
    pthread_once(&classes_once, build_classes);
    idx = lua_absindex(L, idx);
    for (const luaL_Reg *f = pattern_funcs; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, idx, f->name);
    }
}
