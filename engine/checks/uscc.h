/*
 * uscc.h — unified social credit identifiers (统一社会信用代码, GB 32100-2015)
 * and the organisation codes embedded in them (组织机构代码, GB 11714-1997).
 *
 * A USCC is 18 characters over 0123456789ABCDEFGHJKLMNPQRTUWXY (no I O Z S V):
 * 1 registration authority (登记管理部门码), 2 organisation type (机构类别码),
 * 3–8 the division of the registering office (GB/T 2260, 6 digits), 9–17 the
 * GB 11714 organisation code (8 body characters and its own check character),
 * 18 the check character: Σ v(cᵢ)·3^(i−1) mod 31 over i = 1..17, with v the
 * index in the alphabet, C18 = 31 − (Σ mod 31), 31 written '0'.
 *
 * A GB 11714 organisation code is 8 body characters (digits or uppercase
 * letters, letter values A=10 … Z=35) and a check character: weights
 * 3 7 9 10 5 8 4 2, C9 = 11 − (Σ mod 11), 10 written 'X', 11 written '0'.
 * On paper it is often printed with a '-' before the check character.
 *
 * Every function takes the value as s[0..len) (NUL termination not needed);
 * reasons are static Chinese strings.
 */
#ifndef QLOOP_USCC_H
#define QLOOP_USCC_H

#include <stdbool.h>
#include <stddef.h>

struct lua_State;

/* What uscc_parse reads from a code. */
struct uscc_info {
    char authority;             /* character 1 */
    const char *authority_name; /* e.g. "工商"; NULL when not in the GB 32100 table */
    char type;                  /* character 2 */
    const char *type_name;      /* e.g. "企业"; NULL when not in the table */
    char division[7];           /* characters 3–8 */
    char orgcode[10];           /* characters 9–17 */
    char check;                 /* character 18 */
};

/* GB 32100 check (qloop_check_fn): true when s is 18 characters of the USCC
 * alphabet, characters 1–2 a registration authority and organisation type of
 * the standard's table, 3–8 digits, 9–17 a GB 11714 code with the right check
 * character, and character 18 the right check character. Otherwise false with
 * *reason (when reason is not NULL): 长度不是18位, 含非法字符…,
 * 登记管理部门代码无效, 机构类别代码无效, 登记管理机关行政区划码无效,
 * 组织机构代码校验码错误, 校验码错误. */
bool uscc_valid(const char *s, size_t len, const char **reason);

/* The check character of the 17 characters body[0..17), or '\0' when one of
 * them is not in the USCC alphabet. */
char uscc_check_char(const char *body);

/* Reads the parts of a code of the right shape (18 characters of the
 * alphabet, 3–8 digits) into *out; the names are looked up in the table.
 * Check characters and the table are not judged: use uscc_valid for that.
 * Returns false with *reason when s cannot be read. */
bool uscc_parse(const char *s, size_t len, struct uscc_info *out, const char **reason);

/* The names of a registration authority, and of an organisation type under
 * it, from the GB 32100 table; NULL when not listed. */
const char *uscc_authority_name(char authority);
const char *uscc_type_name(char authority, char type);

/* GB 11714 check (qloop_check_fn): 9 characters, or 10 with a '-' before the
 * check character; body digits or uppercase letters, check character right.
 * Otherwise false with *reason: 长度不是9位, 含非法字符…, 校验码错误. */
bool orgcode_valid(const char *s, size_t len, const char **reason);

/* The check character ('0'-'9' or 'X') of the 8 body characters body[0..8),
 * or '\0' when one of them is not a digit or uppercase letter. */
char orgcode_check_char(const char *body);

/* orgcode.valid as Lua sees it (lua_orgcode.c). Named here because the same
 * function pointer is listed in qloop_uscc_checks (lua_uscc.c). */
int qloop_lua_orgcode_valid(struct lua_State *L);

#endif
