/*
 * gen_w1.c — the deterministic record generator of benchmark workload W1.
 *
 * Writes N resident-population records (pop_N.csv) exactly as
 * ../shared/bench/W1.md describes them: valid GB 11643 identity numbers with
 * unique 17-char bodies, realistic names, addresses and mobile numbers, valid
 * GB 32100 employer codes (with a correct embedded GB 11714 check char), and
 * the eleven injected defect kinds, k = round(N * 0.02) rows each, on disjoint
 * rows. Alongside it writes the truth file: every (check, row_no) pair the
 * injected defects must make fail, one `check,row_no` line each, and on
 * request the same records as JSON Lines.
 *
 * Everything is drawn from one xoshiro256** stream seeded through splitmix64,
 * so the same N, seed, reference date and division table give byte-identical
 * files on every machine; this file holds every draw from it, and the parts
 * that draw nothing (output, division table, check characters, dates) are
 * in gen_w1_base.c (gen_w1.h). Only libc is used. Division codes come from the
 * national CSV (--divisions, `code,name`, the W1 setting: 300 county-level
 * codes taken at even steps in file order) or from the project's bundled
 * table (--divisions-txt, `code<TAB>name`, '#' comments; default
 * engine/data/divisions_bundled.txt).
 *
 * Usage: gen_w1 N OUT.csv [--seed S] [--truth TRUTH.csv] [--jsonl OUT.jsonl]
 *        [--divisions divisions.csv | --divisions-txt FILE] [--ref YYYY-MM-DD]
 *        [--within PREFIX] [--dept-by-city]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen_w1.h"
#include "prng.h"

/* ------------------------------------------------------------------ */
/* PRNG (bench/prng.h: rng_seed, rng_next, rng_below) and the codes     */
/* ------------------------------------------------------------------ */

/* Uniform integer in [lo, hi]. */
static int64_t rng_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)rng_below((uint64_t)(hi - lo + 1));
}

/* True with probability percent/100. */
static bool rng_pct(unsigned percent)
{
    return rng_below(100) < percent;
}

/* A 6-digit code absent from the table in use, for unknown_division: a real
 * prefecture prefix of the row's county with a county suffix 60–79, a range
 * no GB/T 2260 county uses (so it is absent from the national table too). */
static int unknown_division(int county)
{
    for (int tries = 0; tries < 1000; tries++) {
        int base = tries < 500 ? county / 100 * 100 : counties[rng_below(ncounties)] / 100 * 100;
        int code = base + (int)rng_range(60, 79);
        if (!div_name(code))
            return code;
    }
    die("找不到行政区划表之外的代码（表中已含所有 xxxx60–xxxx79 代码？）；请检查行政区划表");
}

/* Registration authority + organisation type pairs of GB 32100 table 1/2, with
 * weights (percent): enterprises dominate employers. */
static const struct {
    const char *prefix;
    unsigned weight;
} uscc_kinds[] = {
    {"91", 82}, {"92", 5}, {"93", 2}, {"12", 5}, {"11", 3}, {"52", 2}, {"51", 1},
};

/* Writes a valid 18-char USCC into out (NUL-terminated): authority/type,
 * registering division (a county of the table in use), an 8-digit
 * organisation body, its GB 11714 check char, and the GB 32100 check char. */
static void make_uscc(char out[19])
{
    unsigned r = (unsigned)rng_below(100), acc = 0;
    const char *prefix = uscc_kinds[0].prefix;
    for (size_t i = 0; i < NELEM(uscc_kinds); i++) {
        acc += uscc_kinds[i].weight;
        if (r < acc) {
            prefix = uscc_kinds[i].prefix;
            break;
        }
    }
    memcpy(out, prefix, 2);
    snprintf(out + 2, 7, "%06d", counties[rng_below(ncounties)]);
    for (int i = 8; i < 16; i++)
        out[i] = (char)('0' + rng_below(10));
    out[16] = orgcode_check_char(out + 8);
    out[17] = uscc_check_char(out);
    out[18] = '\0';
}

/* ------------------------------------------------------------------ */
/* Names, phones, addresses, departments                              */
/* ------------------------------------------------------------------ */

static const char *const SURNAMES[] = {
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
    "郭", "何", "林", "高", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
    "彭", "曾", "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏",
    "魏", "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金",
    "石", "廖", "贾", "夏", "韦", "付", "方", "白", "邹", "孟", "熊", "秦", "邱", "江", "尹",
    "薛", "闫", "段", "雷", "侯", "龙", "史", "陶", "黎", "贺", "顾", "毛", "郝", "龚", "邵",
    "万", "钱", "严", "应", "俞", "楼", "章", "施", "虞", "舒", "屠", "葛", "翁", "洪", "包",
};
static const char *const COMPOUND_SURNAMES[] = {"欧阳", "司马", "诸葛", "上官", "东方", "慕容"};
static const char *const MALE_CHARS[] = {
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华",
    "飞", "鑫", "波", "宇", "浩", "凯", "健", "俊", "帆", "旭", "宁", "龙", "林", "阳", "建",
    "国", "志", "文", "海", "峰", "东", "晨", "博", "昊", "轩", "睿", "天", "嘉", "振", "家",
    "宏", "毅", "鸿", "瑞", "成", "德", "永", "立", "新", "庆", "金", "亮", "晖", "翔", "彬",
};
static const char *const FEMALE_CHARS[] = {
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "玲", "桂", "英", "萍", "红", "燕",
    "婷", "雪", "琳", "洁", "颖", "倩", "慧", "欣", "怡", "佳", "梦", "雨", "晓", "玉", "丹",
    "璐", "思", "诗", "涵", "萱", "彤", "妍", "悦", "蕾", "琴", "月", "云", "莉", "薇", "菲",
    "雅", "珍", "凤", "兰", "梅", "春", "晶", "瑶", "欢", "亚", "宁", "文", "嘉", "一", "可",
};

/* Writes a 2–3 character name for a person of the given sex into out. Common
 * surnames are drawn more often than rare ones (index skewed toward 0). */
static void make_name(char *out, size_t size, bool male)
{
    const char *const *given = male ? MALE_CHARS : FEMALE_CHARS;
    size_t ngiven = male ? NELEM(MALE_CHARS) : NELEM(FEMALE_CHARS);
    if (rng_pct(1)) {
        snprintf(out, size, "%s%s", COMPOUND_SURNAMES[rng_below(NELEM(COMPOUND_SURNAMES))],
                 given[rng_below(ngiven)]);
        return;
    }
    uint64_t u = rng_below(1u << 16);
    size_t si = (size_t)(u * u * NELEM(SURNAMES) >> 32); /* quadratic skew */
    if (rng_pct(30))
        snprintf(out, size, "%s%s", SURNAMES[si], given[rng_below(ngiven)]);
    else
        snprintf(out, size, "%s%s%s", SURNAMES[si], given[rng_below(ngiven)],
                 given[rng_below(ngiven)]);
}

/* Mobile prefixes in use (all match ^1[3-9]). */
static const char *const PHONE_PREFIXES[] = {
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "145", "147",
    "150", "151", "152", "153", "155", "156", "157", "158", "159", "166", "170", "171",
    "173", "175", "176", "177", "178", "180", "181", "182", "183", "184", "185", "186",
    "187", "188", "189", "191", "193", "195", "196", "197", "198", "199",
};

/* Writes a valid 11-digit mobile number into out (12 bytes). */
static void make_phone(char out[12])
{
    memcpy(out, PHONE_PREFIXES[rng_below(NELEM(PHONE_PREFIXES))], 3);
    for (int i = 3; i < 11; i++)
        out[i] = (char)('0' + rng_below(10));
    out[11] = '\0';
}

/* Appends the full-width form (U+FF10–U+FF19, 3 bytes) of ASCII digit c. */
static char *put_fullwidth_digit(char *p, char c)
{
    /* U+FF10 + d = EF BC 90+d */
    *p++ = (char)0xEF;
    *p++ = (char)0xBC;
    *p++ = (char)(0x90 + (c - '0'));
    return p;
}

/* Rewrites the valid phone in into out in one of the cleansable forms
 * (full-width digits; ASCII spaces around; some full-width digits plus a
 * trailing U+3000). W1's cleansing turns each back into in. */
static void make_cleansable_phone(const char in[12], char *out)
{
    char *p = out;
    switch (rng_below(3)) {
    case 0:
        for (int i = 0; i < 11; i++)
            p = put_fullwidth_digit(p, in[i]);
        break;
    case 1: {
        int lead = (int)rng_range(0, 2), trail = (int)rng_range(0, 2);
        if (lead + trail == 0)
            lead = 1;
        for (int i = 0; i < lead; i++)
            *p++ = ' ';
        memcpy(p, in, 11);
        p += 11;
        for (int i = 0; i < trail; i++)
            *p++ = ' ';
        break;
    }
    default: {
        int from = (int)rng_range(0, 7), to = from + (int)rng_range(2, 4);
        for (int i = 0; i < 11; i++)
            p = (i >= from && i < to) ? put_fullwidth_digit(p, in[i]) : (*p++ = in[i], p);
        memcpy(p, "\xE3\x80\x80", 3); /* U+3000 */
        p += 3;
        break;
    }
    }
    *p = '\0';
}

/* Rewrites the valid phone in into out as an invalid one that stays invalid
 * after cleansing: 10 digits, 12 digits, second digit 0–2, or the letter O in
 * place of a digit. */
static void make_bad_phone(const char in[12], char *out)
{
    memcpy(out, in, 12);
    switch (rng_below(4)) {
    case 0:
        out[10] = '\0';
        break;
    case 1:
        out[11] = (char)('0' + rng_below(10));
        out[12] = '\0';
        break;
    case 2:
        out[1] = (char)('0' + rng_below(3));
        break;
    default:
        out[rng_range(1, 10)] = 'O';
        break;
    }
}

static const char *const TOWN_STEMS[] = {
    "城南", "城北", "城东", "城西", "东湖", "西山", "新塘", "白沙", "石桥", "青山", "龙港", "长安",
    "永安", "金山", "花园", "柳市", "梅溪", "桃源", "双桥", "清河", "新城", "文昌", "凤凰", "太平",
};
static const char *const ROAD_STEMS[] = {
    "人民", "解放", "中山", "建设", "文化", "和平", "新华", "胜利", "学府", "环城", "滨江",
    "湖滨", "江南", "光明", "幸福", "兴业", "创业", "振兴", "银杏", "体育场", "公园", "府前",
    "工业", "迎宾", "望江", "东风", "青年", "朝阳", "南湖", "北山",
};
static const char *const ROAD_SUFFIXES[] = {"路", "路", "路", "街", "大道", "东路", "西路"};
static const char *const VILLAGE_STEMS[] = {
    "李家", "王家", "张家", "上塘", "下洋", "前山", "后畈", "大岙", "溪口", "岭下", "田心", "新屋",
};

/* Writes a Chinese address of about 20–30 characters in the county of code
 * into out (NUL-terminated, size >= 1): province, city, county, street or
 * town, then road, number and flat (urban) or village, group and number
 * (rural). Parts that would push it past 30 characters are left off: first
 * the province, then the flat. */
static void make_address(char *out, size_t size, int code)
{
    const char *county = div_name(code);
    const char *city = div_name(code / 100 * 100);
    const char *prov = div_name(code / 10000 * 10000);
    if (placeholder_name(city))
        city = NULL;
    if (placeholder_name(prov) || (city && strcmp(prov, city) == 0))
        prov = NULL; /* municipalities: 北京市 is the province and the city */
    char place[128], flat[64];
    flat[0] = '\0';
    if (rng_pct(70)) {
        snprintf(place, sizeof place, "%s街道%s%s%d号", TOWN_STEMS[rng_below(NELEM(TOWN_STEMS))],
                 ROAD_STEMS[rng_below(NELEM(ROAD_STEMS))],
                 ROAD_SUFFIXES[rng_below(NELEM(ROAD_SUFFIXES))], (int)rng_range(1, 999));
        snprintf(flat, sizeof flat, "%d幢%d单元%d%02d室", (int)rng_range(1, 36),
                 (int)rng_range(1, 6), (int)rng_range(1, 32), (int)rng_range(1, 4));
    } else {
        snprintf(place, sizeof place, "%s镇%s村%d组%d号", TOWN_STEMS[rng_below(NELEM(TOWN_STEMS))],
                 VILLAGE_STEMS[rng_below(NELEM(VILLAGE_STEMS))], (int)rng_range(1, 12),
                 (int)rng_range(1, 120));
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        bool with_prov = prov && attempt == 0, with_flat = attempt < 2;
        out[0] = '\0';
        if (with_prov)
            append_whole(out, size, prov);
        if (city)
            append_whole(out, size, city);
        if (county)
            append_whole(out, size, county);
        append_whole(out, size, place);
        if (with_flat)
            append_whole(out, size, flat);
        if (utf8_chars(out) <= 30)
            break;
    }
}

static const char *const DEPTS[12] = {
    "市公安局", "市民政局", "市人力资源和社会保障局", "市卫生健康委员会",
    "市教育局", "市医疗保障局", "市住房和城乡建设局", "市市场监督管理局",
    "市退役军人事务局", "市残疾人联合会", "市税务局", "市自然资源和规划局",
};

/* ------------------------------------------------------------------ */
/* Defects                                                             */
/* ------------------------------------------------------------------ */

enum kind {
    K_CLEAN = 0,
    K_BAD_ID_CHECK,
    K_ID_BIRTH_MISMATCH,
    K_SEX_MISMATCH,
    K_BAD_PHONE,
    K_MISSING_NAME,
    K_DUP_PERSON_ID,
    K_UNKNOWN_DIVISION,
    K_BAD_USCC_CHECK,
    K_PHONE_CLEANSABLE,
    K_DATE_CLEANSABLE,
    K_STALE_UPDATED_AT,
    K_DUP_SOURCE, /* the clean row whose identity a dup_person_id row copies */
    K_NKINDS
};

/* The W1 checks in W1.md order, and the defect kinds that make each fail. */
static const struct {
    const char *check;
    enum kind kind1, kind2;
} CHECKS[] = {
    {"name_not_null", K_MISSING_NAME, K_CLEAN},
    {"person_id_not_null", K_CLEAN, K_CLEAN},
    {"id_check", K_BAD_ID_CHECK, K_CLEAN},
    {"id_birth_match", K_ID_BIRTH_MISMATCH, K_CLEAN},
    {"sex_match", K_SEX_MISMATCH, K_CLEAN},
    {"phone_valid", K_BAD_PHONE, K_CLEAN},
    {"person_id_unique", K_DUP_PERSON_ID, K_DUP_SOURCE},
    {"division_exists", K_UNKNOWN_DIVISION, K_CLEAN},
    {"uscc_check", K_BAD_USCC_CHECK, K_CLEAN},
    {"updated_recent", K_STALE_UPDATED_AT, K_CLEAN},
};

/* ------------------------------------------------------------------ */
/* Identity bodies: unique 17-digit values in an open-addressing set   */
/* ------------------------------------------------------------------ */

static uint64_t *idset;
static size_t idset_mask;

/* Inserts body; returns false when it was already present. body != 0. */
static bool idset_insert(uint64_t body)
{
    size_t i = (size_t)((body * 0x9e3779b97f4a7c15ULL) >> 17) & idset_mask;
    while (idset[i]) {
        if (idset[i] == body)
            return false;
        i = (i + 1) & idset_mask;
    }
    idset[i] = body;
    return true;
}

/* ------------------------------------------------------------------ */
/* Main                                                                */
/* ------------------------------------------------------------------ */

static void usage(FILE *to)
{
    fputs("用法：gen_w1 N OUT.csv [--seed S] [--truth TRUTH.csv] [--jsonl OUT.jsonl]\n"
          "             [--divisions divisions.csv | --divisions-txt FILE] [--ref YYYY-MM-DD]\n"
          "             [--within PREFIX] [--dept-by-city]\n"
          "按 W1（bench/README.md、shared/bench/W1.md）生成 N 行人口记录，并注入 11 类缺陷，\n"
          "每类 k = round(N×0.02) 行。\n"
          "  --seed S            随机种子（默认 1）；同样的参数总是生成同样的文件\n"
          "  --truth FILE        写出应当失败的 (check,row_no) 集合\n"
          "  --jsonl FILE        另写一份相同记录的 JSON Lines\n"
          "  --divisions FILE    全国行政区划 CSV（code,name），取其中 300 个县级代码\n"
          "  --divisions-txt F   内置行政区划表（代码<TAB>名称；默认 engine/data/divisions_bundled.txt）\n"
          "  --within PREFIX     只用以 PREFIX 开头的县级代码（如 33 = 浙江省）\n"
          "  --ref DATE          评估日 REF（默认 2026-11-22）；更新时间相对它生成\n"
          "  --dept-by-city      source_dept 取记录所在城市的公安局（如 杭州市公安局），\n"
          "                      不用默认的 12 个部门名\n",
          to);
}

int main(int argc, char **argv)
{
    const char *out_path = NULL, *truth_path = NULL, *jsonl_path = NULL;
    const char *div_csv = NULL, *div_txt = "engine/data/divisions_bundled.txt";
    const char *ref_text = "2026-11-22", *within = NULL;
    uint64_t seed = 1, nrows = 0;
    bool have_n = false, dept_by_city = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--dept-by-city") == 0) {
            dept_by_city = true;
            continue;
        }
        if (a[0] == '-' && a[1] == '-') {
            if (i + 1 >= argc)
                die("选项 %s 缺少取值；运行 gen_w1 --help 查看用法", a);
            const char *v = argv[++i];
            if (strcmp(a, "--seed") == 0)
                seed = parse_u64(a, v);
            else if (strcmp(a, "--truth") == 0)
                truth_path = v;
            else if (strcmp(a, "--jsonl") == 0)
                jsonl_path = v;
            else if (strcmp(a, "--divisions") == 0)
                div_csv = v;
            else if (strcmp(a, "--divisions-txt") == 0)
                div_txt = v;
            else if (strcmp(a, "--ref") == 0)
                ref_text = v;
            else if (strcmp(a, "--within") == 0)
                within = v;
            else
                die("未知选项 %s；运行 gen_w1 --help 查看用法", a);
            continue;
        }
        if (!have_n) {
            nrows = parse_u64("N", a);
            have_n = true;
        } else if (!out_path) {
            out_path = a;
        } else {
            die("多余的参数“%s”；运行 gen_w1 --help 查看用法", a);
        }
    }
    if (!have_n || !out_path) {
        usage(stderr);
        return 2;
    }
    if (nrows > 100000000)
        die("N = %llu 太大；最多 100000000 行", (unsigned long long)nrows);

    int ry, rm, rd;
    char rtail;
    if (sscanf(ref_text, "%4d-%2d-%2d%c", &ry, &rm, &rd, &rtail) != 3 || strlen(ref_text) != 10 ||
        !valid_date(ry, rm, rd))
        die("--ref 的值“%s”不是 YYYY-MM-DD 格式的有效日期", ref_text);
    const int64_t ref_secs = days_from_civil(ry, rm, rd) * 86400;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    if (div_csv)
        load_divisions(div_csv, true, within);
    else
        load_divisions(div_txt, false, within);

    rng_seed(seed);
    const size_t n = (size_t)nrows;
    const size_t k = (size_t)((nrows + 25) / 50); /* round(N * 0.02), half up */
    if (12 * k > n)
        die("N = %zu 太小，放不下 12×k 个互不相交的缺陷行", n);

    /* Pass 1: identities. body = id-division * 1e11 + yyyymmdd * 1e3 + seq,
     * unique over all rows; residence = index into counties. */
    const int64_t birth_lo = days_from_civil(1930, 1, 1), birth_hi = days_from_civil(2008, 12, 31);
    if ((double)n * 4 > (double)ncounties * (double)(birth_hi - birth_lo + 1) * 999)
        die("N = %zu 太大：%zu 个县级代码下无法生成这么多互不相同的身份号码；请减小 N 或放宽 --within", n,
            ncounties);
    uint64_t *body = xmalloc(n * sizeof *body);
    uint16_t *residence = xmalloc(n * sizeof *residence);
    size_t setcap = 1024;
    while (setcap < 2 * n)
        setcap <<= 1;
    idset = xcalloc(setcap, sizeof *idset);
    idset_mask = setcap - 1;
    for (size_t i = 0; i < n; i++) {
        residence[i] = (uint16_t)rng_below(ncounties);
        for (;;) {
            int idiv = rng_pct(85) ? counties[residence[i]] : counties[rng_below(ncounties)];
            int y, m, d;
            /* triangular over 1930–2008 (two uniform halves): working ages
             * are common, the very old and the very young fewer */
            civil_from_days(birth_lo + rng_range(0, (birth_hi - birth_lo) / 2) +
                                rng_range(0, (birth_hi - birth_lo + 1) / 2),
                            &y, &m, &d);
            uint64_t b = (uint64_t)idiv * 100000000000ULL +
                         (uint64_t)(y * 10000 + m * 100 + d) * 1000ULL + (uint64_t)rng_range(1, 999);
            if (idset_insert(b)) {
                body[i] = b;
                break;
            }
        }
    }
    free(idset);

    /* Defect rows: a partial random permutation; its first k rows get kind 1,
     * the next k kind 2, ..., and the twelfth block the dup sources, paired in
     * order with the dup_person_id rows (src_of). */
    uint8_t *kind = xcalloc(n, 1);
    uint32_t *src_of = xcalloc(n, sizeof *src_of);
    {
        uint32_t *perm = xmalloc(n * sizeof *perm);
        for (size_t i = 0; i < n; i++)
            perm[i] = (uint32_t)i;
        for (size_t i = 0; i < 12 * k; i++) { /* partial Fisher–Yates */
            size_t j = i + (size_t)rng_below(n - i);
            uint32_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (size_t c = 0; c < 12; c++)
            for (size_t j = 0; j < k; j++)
                kind[perm[c * k + j]] = (uint8_t)(c + 1);
        for (size_t j = 0; j < k; j++)
            src_of[perm[(K_DUP_PERSON_ID - 1) * k + j]] = perm[(K_DUP_SOURCE - 1) * k + j];
        free(perm);
    }

    /* Pass 2: the records, in row order. */
    struct out csv, jsonl;
    out_open(&csv, out_path);
    if (jsonl_path)
        out_open(&jsonl, jsonl_path);
    static const char *const COLS[10] = {"person_id", "name",          "sex",     "birth_date",
                                         "phone",     "division_code", "address", "employer_uscc",
                                         "updated_at", "source_dept"};
    for (int c = 0; c < 10; c++) {
        out_str(&csv, COLS[c]);
        out_chr(&csv, c < 9 ? ',' : '\n');
    }
    const int ref_year = ry;
    for (size_t i = 0; i < n; i++) {
        const enum kind kd = (enum kind)kind[i];
        char digits[17], pid[19], name[64], birth[16], phone[64], division[8], address[256];
        char uscc[19], updated[24], dept[128];
        const char *sex;

        /* Identity: person_id, sex, birth date (copied for a dup row). */
        id_body_digits(kd == K_DUP_PERSON_ID ? body[src_of[i]] : body[i], digits);
        memcpy(pid, digits, 17);
        pid[17] = id_check_char(digits);
        pid[18] = '\0';
        if (kd == K_BAD_ID_CHECK) {
            static const char CHECKS_ALPHA[] = "0123456789X";
            char c;
            do
                c = CHECKS_ALPHA[rng_below(11)];
            while (c == pid[17]);
            pid[17] = c;
        }
        const bool male = (digits[16] - '0') % 2 == 1;
        int by = (digits[6] - '0') * 1000 + (digits[7] - '0') * 100 + (digits[8] - '0') * 10 +
                 (digits[9] - '0');
        int bm = (digits[10] - '0') * 10 + (digits[11] - '0');
        int bd = (digits[12] - '0') * 10 + (digits[13] - '0');
        sex = (male != (kd == K_SEX_MISMATCH)) ? "男" : "女";
        if (kd == K_ID_BIRTH_MISMATCH) {
            int64_t real = days_from_civil(by, bm, bd), other;
            do
                other = rng_range(birth_lo, birth_hi);
            while (other == real);
            int y, m, d;
            civil_from_days(other, &y, &m, &d);
            fmt_date(y, m, d, birth);
        } else if (kd == K_DATE_CLEANSABLE) {
            snprintf(birth, sizeof birth, "%d/%d/%d", by % 10000, bm % 100, bd % 100);
        } else {
            fmt_date(by, bm, bd, birth);
        }

        /* Name. */
        if (kd == K_MISSING_NAME)
            name[0] = '\0';
        else
            make_name(name, sizeof name, male);

        /* Phone. */
        char good_phone[12];
        make_phone(good_phone);
        if (kd == K_BAD_PHONE)
            make_bad_phone(good_phone, phone);
        else if (kd == K_PHONE_CLEANSABLE)
            make_cleansable_phone(good_phone, phone);
        else
            memcpy(phone, good_phone, 12);

        /* Residence: division code, address, department. */
        const int home = counties[residence[i]];
        snprintf(division, sizeof division, "%06d",
                 kd == K_UNKNOWN_DIVISION ? unknown_division(home) : home);
        make_address(address, sizeof address, home);
        if (dept_by_city) {
            const char *city = city_of(home);
            snprintf(dept, sizeof dept, "%s公安局", city ? city : "市");
        } else {
            snprintf(dept, sizeof dept, "%s", DEPTS[rng_below(NELEM(DEPTS))]);
        }

        /* Employer: often none for school-age and retirement-age people. */
        int age = ref_year - by;
        unsigned none_pct = age < 20 ? 80 : age >= 60 ? 60 : 8;
        if (kd != K_BAD_USCC_CHECK && rng_pct(none_pct)) {
            uscc[0] = '\0';
        } else {
            make_uscc(uscc);
            if (kd == K_BAD_USCC_CHECK) {
                char c;
                do
                    c = USCC_ALPHA[rng_below(31)];
                while (c == uscc[17]);
                uscc[17] = c;
            }
        }

        /* Last update: within the freshness window [REF-364d, REF-1s], or
         * 400–2000 days before REF for a stale row. */
        int64_t t = kd == K_STALE_UPDATED_AT ? ref_secs - rng_range(400LL * 86400, 2000LL * 86400)
                                             : ref_secs - rng_range(1, 364LL * 86400);
        fmt_datetime(t, updated);

        const char *vals[10] = {pid, name, sex, birth, phone, division, address, uscc, updated, dept};
        for (int c = 0; c < 10; c++) {
            out_csv_field(&csv, vals[c]);
            out_chr(&csv, c < 9 ? ',' : '\n');
        }
        if (jsonl_path) {
            for (int c = 0; c < 10; c++) {
                out_str(&jsonl, c == 0 ? "{\"" : ",\"");
                out_str(&jsonl, COLS[c]);
                out_str(&jsonl, "\":");
                out_json_string(&jsonl, vals[c]);
            }
            out_str(&jsonl, "}\n");
        }
    }
    out_close(&csv);
    if (jsonl_path)
        out_close(&jsonl);

    /* The truth file: every (check, row_no) the defects must make fail. */
    size_t expected = 0;
    if (truth_path) {
        struct out tr;
        out_open(&tr, truth_path);
        out_str(&tr, "check,row_no\n");
        for (size_t c = 0; c < NELEM(CHECKS); c++) {
            if (CHECKS[c].kind1 == K_CLEAN)
                continue;
            for (size_t i = 0; i < n; i++) {
                if (kind[i] != CHECKS[c].kind1 && (CHECKS[c].kind2 == K_CLEAN || kind[i] != CHECKS[c].kind2))
                    continue;
                char line[64];
                int len = snprintf(line, sizeof line, "%s,%zu\n", CHECKS[c].check, i + 1);
                out_put(&tr, line, (size_t)len);
                expected++;
            }
        }
        out_close(&tr);
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr,
            "gen_w1: %zu 行写入 %s（种子 %llu，REF %s，k = %zu，县级代码 %zu 个，取自 %s）；"
            "应失败 %zu 对；用时 %.2f 秒\n",
            n, out_path, (unsigned long long)seed, ref_text, k, ncounties, div_csv ? div_csv : div_txt,
            expected, secs);

    free(body);
    free(residence);
    free(kind);
    free(src_of);
    for (size_t i = 0; i < ndivs; i++)
        free(divs[i].name);
    free(divs);
    return 0;
}
