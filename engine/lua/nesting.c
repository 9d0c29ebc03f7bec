/*
 * nesting.c — where a Lua chunk nests deepest (lua/nesting.h).
 *
 * Lua's parser counts its own recursion against the C stack limit; a chunk
 * nested past it fails with "C stack overflow" and no line, since the parser
 * raises it outside any function that has one. This scanner walks the text
 * once — strings, long strings and comments skipped — counting what opens a
 * level of the grammar — ( [ { and function, if, do, repeat (closed by ) ] }
 * end until) — and gives the line where the nesting first reached its
 * deepest, which is where the parser gave up or just past it.
 */
#include <stdbool.h>
#include <string.h>

#include "lua/nesting.h"

/* Whether c may be part of a name. */
static bool name_char(unsigned char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80;
}

/* Whether s[i..) starts a long bracket ([[, [=[, ...); its level in *eq. */
static bool long_open(const char *s, size_t len, size_t i, size_t *eq)
{
    if (s[i] != '[')
        return false;
    size_t j = i + 1;
    while (j < len && s[j] == '=')
        j++;
    *eq = j - i - 1;
    return j < len && s[j] == '[';
}

/* Skips a long bracket of level eq opened at i; returns the index after it,
 * counting its lines into *line. */
static size_t long_skip(const char *s, size_t len, size_t i, size_t eq, long *line)
{
    for (size_t j = i + eq + 2; j < len; j++) {
        if (s[j] == '\n')
            ++*line;
        if (s[j] == ']' && j + eq + 1 < len) {
            size_t k = 1;
            while (k <= eq && s[j + k] == '=')
                k++;
            if (k == eq + 1 && s[j + k] == ']')
                return j + k + 1;
        }
    }
    return len;
}

long qloop_lua_deepest_line(const char *s, size_t len, int *depth)
{
    long line = 1, deepest_line = 0;
    int level = 0, deepest = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t eq;
        if (c == '\n') {
            line++;
            i++;
        } else if (c == '-' && i + 1 < len && s[i + 1] == '-') { /* a comment */
            if (i + 2 < len && long_open(s, len, i + 2, &eq)) {
                i = long_skip(s, len, i + 2, eq, &line);
            } else {
                while (i < len && s[i] != '\n')
                    i++;
            }
        } else if (c == '"' || c == '\'') { /* a short string */
            for (i++; i < len && (unsigned char)s[i] != c && s[i] != '\n'; i++)
                if (s[i] == '\\' && i + 1 < len) {
                    if (s[i + 1] == '\n')
                        line++;
                    i++;
                }
            i++;
        } else if (long_open(s, len, i, &eq)) {
            i = long_skip(s, len, i, eq, &line);
        } else if (name_char(c) && !(c >= '0' && c <= '9')) {
            size_t j = i;
            while (j < len && name_char((unsigned char)s[j]))
                j++;
            size_t n = j - i;
            const char *w = s + i;
            if ((n == 8 && !memcmp(w, "function", 8)) || (n == 2 && !memcmp(w, "if", 2)) ||
                (n == 2 && !memcmp(w, "do", 2)) || (n == 6 && !memcmp(w, "repeat", 6)))
                level++;
            else if ((n == 3 && !memcmp(w, "end", 3)) || (n == 5 && !memcmp(w, "until", 5)))
                level--;
            i = j;
        } else {
            if (c == '(' || c == '{' || c == '[')
                level++;
            else if (c == ')' || c == '}' || c == ']')
                level--;
            i++;
        }
        if (level > deepest) {
            deepest = level;
            deepest_line = line;
        }
    }
    if (depth)
        *depth = deepest;
    return deepest_line;
}
