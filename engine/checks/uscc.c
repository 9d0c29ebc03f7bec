/*
 * uscc.c — GB 32100-2015 unified social credit identifiers and GB 11714-1997
 * organisation codes: check characters, validation and parsing.
 *
 * The registration authority / organisation type table below is the one of
 * GB 32100-2015 §4 as assigned in practice (the standard lists 1 机构编制,
 * 5 民政, 9 工商 and Y 其他 and leaves the other authorities to be assigned;
 * the assigned codes 2 外交, 3 司法行政, 4 文化, 6 旅游, 7 宗教, 8 工会,
 * A 中央军委改革和编制办公室 and N 农业 are those in use). Source: the code
 * table as reproduced in 统一社会信用代码解析登记管理部门和机构类别,
 * https://osuse.cn/post/10002590.html (and, identically, the uscc-utils
 * package's USCC_CATEGORY_MAP); checked against the standard's own examples
 * (11: 机关, 51: 社会团体, 91: 企业, 92: 个体工商户, 93: 农民专业合作社, Y1).
 */
#include <string.h>

#include "checks/uscc.h"

static const char R_LENGTH[] = "长度不是18位";
static const char R_CHARS[] = "含非法字符";
static const char R_LOWER[] = "含非法字符：字母应为大写";
static const char R_FORBIDDEN[] = "含非法字符：统一社会信用代码不使用I、O、Z、S、V";
static const char R_AUTHORITY[] = "登记管理部门代码无效";
static const char R_TYPE[] = "机构类别代码无效";
static const char R_DIVISION[] = "登记管理机关行政区划码无效";
static const char R_ORG_CHECK[] = "组织机构代码校验码错误";
static const char R_CHECK[] = "校验码错误";
static const char R_ORG_LENGTH[] = "长度不是9位";

/* Value + 1 of each character of the USCC alphabet 0-9 A-H J-N P-R T U W-Y;
 * 0 for characters outside it. */
static const unsigned char USCC_VAL1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,
    ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14,
    ['E'] = 15, ['F'] = 16, ['G'] = 17, ['H'] = 18, ['J'] = 19, ['K'] = 20, ['L'] = 21,
    ['M'] = 22, ['N'] = 23, ['P'] = 24, ['Q'] = 25, ['R'] = 26, ['T'] = 27, ['U'] = 28,
    ['W'] = 29, ['X'] = 30, ['Y'] = 31,
};
static const char USCC_ALPHABET[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
/* 3^(i-1) mod 31, i = 1..17. */
static const int USCC_WEIGHTS[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
static const int ORG_WEIGHTS[8] = {3, 7, 9, 10, 5, 8, 4, 2};

struct org_type {
    char code;
    const char *name;
};

struct authority {
    char code;
    const char *name;
    struct org_type types[7]; /* ends with code '\0' */
};

static const struct authority AUTHORITIES[] = {
    {'1', "机构编制",
     {{'1', "机关"}, {'2', "事业单位"}, {'3', "中央编办直接管理机构编制的群众团体"},
      {'9', "其他"}, {0, NULL}}},
    {'2', "外交", {{'1', "外国常驻新闻机构"}, {'9', "其他"}, {0, NULL}}},
    {'3', "司法行政",
     {{'1', "律师执业机构"}, {'2', "公证处"}, {'3', "基层法律服务所"},
      {'4', "司法鉴定机构"}, {'5', "仲裁委员会"}, {'9', "其他"}, {0, NULL}}},
    {'4', "文化", {{'1', "外国在华文化中心"}, {'9', "其他"}, {0, NULL}}},
    {'5', "民政",
     {{'1', "社会团体"}, {'2', "民办非企业单位"}, {'3', "基金会"}, {'9', "其他"},
      {0, NULL}}},
    {'6', "旅游",
     {{'1', "外国旅游部门常驻代表机构"},
      {'2', "港澳台地区旅游部门常驻内地（大陆）代表机构"}, {'9', "其他"}, {0, NULL}}},
    {'7', "宗教", {{'1', "宗教活动场所"}, {'2', "宗教院校"}, {'9', "其他"}, {0, NULL}}},
    {'8', "工会", {{'1', "基层工会"}, {'9', "其他"}, {0, NULL}}},
    {'9', "工商", {{'1', "企业"}, {'2', "个体工商户"}, {'3', "农民专业合作社"}, {0, NULL}}},
    {'A', "中央军委改革和编制办公室", {{'1', "军队事业单位"}, {'9', "其他"}, {0, NULL}}},
    {'N', "农业",
     {{'1', "组级集体经济组织"}, {'2', "村级集体经济组织"}, {'3', "乡镇级集体经济组织"},
      {'9', "其他"}, {0, NULL}}},
    {'Y', "其他", {{'1', "其他"}, {0, NULL}}},
};

static void set_reason(const char **reason, const char *r)
{
    if (reason)
        *reason = r;
}

static const struct authority *find_authority(char code)
{
    for (size_t i = 0; i < sizeof AUTHORITIES / sizeof AUTHORITIES[0]; i++)
        if (AUTHORITIES[i].code == code)
            return &AUTHORITIES[i];
    return NULL;
}

const char *uscc_authority_name(char authority)
{
    const struct authority *a = find_authority(authority);
    return a ? a->name : NULL;
}

const char *uscc_type_name(char authority, char type)
{
    const struct authority *a = find_authority(authority);
    if (!a)
        return NULL;
    for (const struct org_type *t = a->types; t->code; t++)
        if (t->code == type)
            return t->name;
    return NULL;
}

/* GB 11714 value of a body character: digit 0-9, uppercase letter 10-35, or
 * -1. */
static int org_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return -1;
}

char orgcode_check_char(const char *body)
{
    int sum = 0;
    for (int i = 0; i < 8; i++) {
        int v = org_value(body[i]);
        if (v < 0)
            return '\0';
        sum += v * ORG_WEIGHTS[i];
    }
    int c = 11 - sum % 11;
    return c == 10 ? 'X' : c == 11 ? '0' : (char)('0' + c);
}

char uscc_check_char(const char *body)
{
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        int v1 = USCC_VAL1[(unsigned char)body[i]];
        if (!v1)
            return '\0';
        sum += (v1 - 1) * USCC_WEIGHTS[i];
    }
    return USCC_ALPHABET[(31 - sum % 31) % 31];
}

/* The reason why the 18 characters s are not all of the USCC alphabet, or
 * NULL. */
static const char *alphabet_reason(const char *s)
{
    for (int i = 0; i < 18; i++) {
        unsigned char c = (unsigned char)s[i];
        if (USCC_VAL1[c])
            continue;
        if (c >= 'a' && c <= 'z')
            return R_LOWER;
        if (c == 'I' || c == 'O' || c == 'Z' || c == 'S' || c == 'V')
            return R_FORBIDDEN;
        return R_CHARS;
    }
    return NULL;
}

static bool digits6(const char *s)
{
    for (int i = 0; i < 6; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool uscc_valid(const char *s, size_t len, const char **reason)
{
    if (len != 18) {
        set_reason(reason, R_LENGTH);
        return false;
    }
    const char *bad = alphabet_reason(s);
    if (bad) {
        set_reason(reason, bad);
        return false;
    }
    if (!find_authority(s[0])) {
        set_reason(reason, R_AUTHORITY);
        return false;
    }
    if (!uscc_type_name(s[0], s[1])) {
        set_reason(reason, R_TYPE);
        return false;
    }
    if (!digits6(s + 2)) {
        set_reason(reason, R_DIVISION);
        return false;
    }
    if (orgcode_check_char(s + 8) != s[16]) {
        set_reason(reason, R_ORG_CHECK);
        return false;
    }
    if (uscc_check_char(s) != s[17]) {
        set_reason(reason, R_CHECK);
        return false;
    }
    return true;
}

bool uscc_parse(const char *s, size_t len, struct uscc_info *out, const char **reason)
{
    if (len != 18) {
        set_reason(reason, R_LENGTH);
        return false;
    }
    const char *bad = alphabet_reason(s);
    if (bad) {
        set_reason(reason, bad);
        return false;
    }
    if (!digits6(s + 2)) {
        set_reason(reason, R_DIVISION);
        return false;
    }
    out->authority = s[0];
    out->authority_name = uscc_authority_name(s[0]);
    out->type = s[1];
    out->type_name = uscc_type_name(s[0], s[1]);
    memcpy(out->division, s + 2, 6);
    out->division[6] = '\0';
    memcpy(out->orgcode, s + 8, 9);
    out->orgcode[9] = '\0';
    out->check = s[17];
    return true;
}

bool orgcode_valid(const char *s, size_t len, const char **reason)
{
    char code[9];
    if (len == 9) {
        memcpy(code, s, 9);
    } else if (len == 10 && s[8] == '-') {
        memcpy(code, s, 8);
        code[8] = s[9];
    } else {
        set_reason(reason, R_ORG_LENGTH);
        return false;
    }
    for (int i = 0; i < 9; i++) {
        if (code[i] >= 'a' && code[i] <= 'z') {
            set_reason(reason, R_LOWER);
            return false;
        }
        if (org_value(code[i]) < 0) {
            set_reason(reason, R_CHARS);
            return false;
        }
    }
    if (orgcode_check_char(code) != code[8]) {
        set_reason(reason, R_CHECK);
        return false;
    }
    return true;
}
