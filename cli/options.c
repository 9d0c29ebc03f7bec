/*
 * options.c — the one option parser (see options.h): finding a group's
 * subcommand, parsing a command's words against its table, the help and
 * usage text built from the same table, and the accessors handlers use.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/escape.h"
#include "base/text.h"
#include "options.h"

/* ---- the table ------------------------------------------------------------ */

/* The index of the option called name (long, len bytes) or, when len is 1
 * and shrt, with that short name; -1 when the command has none. */
static int find_option(const struct cli_command *cmd, const char *name, size_t len, bool shrt)
{
    for (int i = 0; cmd->options && cmd->options[i].name; i++) {
        const struct cli_option *o = &cmd->options[i];
        if (shrt ? len == 1 && o->short_name == name[0]
                 : strlen(o->name) == len && memcmp(o->name, name, len) == 0)
            return i;
    }
    return -1;
}

/* Whether word w is an option of cmd rather than a value: -h, --help, a
 * known short option, or anything that begins with "--" but "--" itself. */
static bool is_option_word(const struct cli_command *cmd, const char *w)
{
    if (w[0] != '-' || w[1] == '\0')
        return false;
    if (w[1] == '-')
        return w[2] != '\0';
    return w[2] == '\0' && (w[1] == 'h' || find_option(cmd, w + 1, 1, true) >= 0);
}

static bool is_help(const char *w)
{
    return strcmp(w, "-h") == 0 || strcmp(w, "--help") == 0;
}

/* ---- help and usage ------------------------------------------------------- */

/* The width on a terminal of s (a CJK character takes two columns). */
static size_t display_width(const char *s)
{
    size_t w = 0, len = strlen(s);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += qloop_utf8_decode((const unsigned char *)s, len, i, &cp);
        w += cp >= 0x1100 && cp != QLOOP_U8_INVALID ? 2 : 1;
    }
    return w;
}

/* "qloop tickets list" */
static void print_words(FILE *out, const struct cli_command *cmd, const char *group)
{
    fprintf(out, "qloop %s%s%s", group ? group : "", group ? " " : "", cmd->name);
}

static void print_usage_line(FILE *out, const struct cli_command *cmd, const char *group)
{
    fputs("用法：", out);
    print_words(out, cmd, group);
    if (cmd->usage && *cmd->usage)
        fprintf(out, " %s", cmd->usage);
    fputc('\n', out);
}

/* "  -e, --code CODE" for option o into buf. */
static void option_label(const struct cli_option *o, char *buf, size_t size)
{
    char shrt[8] = "";
    if (o->short_name)
        snprintf(shrt, sizeof shrt, "-%c, ", o->short_name);
    snprintf(buf, size, "  %s--%s%s%s%s", shrt, o->name, o->value ? " " : "", o->value ? o->value : "",
             o->flags & CLI_MULTI ? "..." : "");
}

void cli_print_help(const struct cli_command *cmd, const char *group)
{
    print_usage_line(stdout, cmd, group);
    if (cmd->summary)
        printf("\n%s\n", cmd->summary);
    static const struct cli_option help = {"help", 'h', NULL, 0, "显示本说明"};
    char label[160];
    size_t width = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            puts("\n选项：");
        for (int i = 0;; i++) {
            const struct cli_option *o = cmd->options && cmd->options[i].name ? &cmd->options[i] : &help;
            option_label(o, label, sizeof label);
            size_t w = display_width(label);
            if (pass == 0 && w > width)
                width = w;
            if (pass == 1)
                printf("%s%*s  %s%s\n", label, (int)(width - w), "", o->help,
                       o->flags & CLI_REQUIRED ? "（必填）" : "");
            if (o == &help)
                break;
        }
    }
    if (cmd->details)
        printf("\n%s", cmd->details);
}

/* The group's help: its subcommands with their usage lines. */
static void print_group_help(const struct cli_group *g, FILE *out)
{
    fprintf(out, "用法：qloop %s 子命令 [选项]\n", g->name);
    if (g->summary)
        fprintf(out, "\n%s\n", g->summary);
    fputs("\n子命令：\n", out);
    for (size_t i = 0; i < g->nsubs; i++) {
        const struct cli_command *c = &g->subs[i];
        fprintf(out, "  %s %s\n      %s\n", c->name, c->usage ? c->usage : "", c->summary ? c->summary : "");
    }
    fprintf(out, "\n每个子命令都接受 --db PATH 和 --help；用 qloop %s 子命令 --help 查看它的全部选项。\n",
            g->name);
    if (g->details)
        fprintf(out, "\n%s", g->details);
}

int cli_fail(const struct cli_args *a, const char *fmt, ...)
{
    const struct cli_command *cmd = a->cmd;
    fprintf(stderr, "qloop: %s%s%s：", a->group ? a->group : "", a->group ? " " : "", cmd->name);
    /* What the user typed, quoted back: control characters escaped. */
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    struct qloop_buf safe = {0};
    qloop_escape_controls(text, strlen(text), QLOOP_ESC_KEEP_NEWLINE, &safe);
    fprintf(stderr, "%s\n", qloop_buf_str(&safe));
    qloop_buf_free(&safe);
    print_usage_line(stderr, cmd, a->group);
    fputs("（用 ", stderr);
    print_words(stderr, cmd, a->group);
    fputs(" --help 查看全部选项）\n", stderr);
    return QLOOP_EXIT_INPUT;
}

/* ---- parsing --------------------------------------------------------------- */

/* The first usage error found while parsing: printed only when no -h/--help
 * stands among the words (help wins, wherever it is). */
struct problem {
    bool set;
    char msg[512];
};

static int note(struct problem *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int note(struct problem *p, const char *fmt, ...)
{
    if (!p->set) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->msg, sizeof p->msg, fmt, ap);
        va_end(ap);
        p->set = true;
    }
    return QLOOP_EXIT_INPUT;
}

/* Records option k with value v in a, checking repetition and text. Returns
 * 0, or the exit code with the problem noted in p. */
static int take(struct cli_args *a, int k, const char *v, struct problem *p)
{
    const struct cli_option *o = &a->cmd->options[k];
    if (!(o->flags & (CLI_REPEAT | CLI_MULTI)))
        for (int i = 0; i < a->ngiven; i++)
            if (a->given[i].opt == k)
                return note(p, "选项 --%s 只能给一次", o->name);
    if ((o->flags & CLI_TEXT) && qloop_utf8_invalid_at(v, strlen(v)) != strlen(v))
        return note(p, "选项 --%s 的值不是有效的 UTF-8 文本；请检查终端或脚本的编码", o->name);
    a->given[a->ngiven++] = (struct cli_given){k, v};
    return 0;
}

/* Parses the words argv[1..argc) but skip (the subcommand word, or 0) into
 * a. Returns 0 with *help set when -h/--help stood anywhere among the
 * options, or the exit code with the first usage error noted in p. */
static int parse(struct cli_args *a, int argc, char **argv, int skip, bool *help, struct problem *p)
{
    const struct cli_command *cmd = a->cmd;
    bool only_pos = false;
    int rc = 0;
    *help = false;
    for (int i = 1; i < argc; i++) {
        const char *w = argv[i];
        if (i == skip)
            continue;
        if (only_pos || w[0] != '-' || w[1] == '\0') {
            if (rc == 0 && a->npos >= cmd->max_pos)
                rc = note(p, "多余的参数“%s”", w);
            a->pos[a->npos++] = w;
            continue;
        }
        if (strcmp(w, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (is_help(w)) {
            *help = true;
            continue;
        }
        if (rc != 0)
            continue; /* after an error, only look for --help */
        bool shrt = w[1] != '-';
        const char *name = w + (shrt ? 1 : 2), *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int k = find_option(cmd, name, len, shrt);
        if (k < 0) {
            rc = note(p, "未知选项 %.*s", (int)(len + (shrt ? 1 : 2)), w);
            continue;
        }
        const struct cli_option *o = &cmd->options[k];
        if (!o->value) {
            rc = eq ? note(p, "选项 --%s 不带取值", o->name) : take(a, k, "", p);
            continue;
        }
        if (eq) {
            rc = take(a, k, eq + 1, p);
            continue;
        }
        if (i + 1 >= argc || i + 1 == skip || is_option_word(cmd, argv[i + 1])) {
            rc = note(p, "选项 --%s 缺少取值（%s）", o->name, o->value);
            continue;
        }
        rc = take(a, k, argv[++i], p);
        while (rc == 0 && (o->flags & CLI_MULTI) && i + 1 < argc && i + 1 != skip &&
               !is_option_word(cmd, argv[i + 1]))
            rc = take(a, k, argv[++i], p);
    }
    if (rc != 0 || *help)
        return rc;
    for (int k = 0; cmd->options && cmd->options[k].name; k++) {
        const struct cli_option *o = &cmd->options[k];
        const char *v = o->flags & CLI_REQUIRED ? cli_opt(a, o->name) : NULL;
        if ((o->flags & CLI_REQUIRED) && (!v || (o->value && !*v)))
            return note(p, "缺少 --%s%s%s", o->name, o->value ? " " : "", o->value ? o->value : "");
    }
    if (a->npos < cmd->min_pos)
        return note(p, "缺少参数（需要 %d 个，只给了 %d 个）", cmd->min_pos, a->npos);
    return 0;
}

/* Parses and runs cmd over argv, skipping argv[skip] (0: none). */
static int run(const struct cli_command *cmd, const char *group, int argc, char **argv, int skip)
{
    struct cli_args a = {.cmd = cmd, .group = group};
    a.pos = calloc((size_t)argc + 1, sizeof *a.pos);
    a.given = calloc((size_t)argc + 1, sizeof *a.given);
    if (!a.pos || !a.given) {
        free(a.pos);
        free(a.given);
        fputs("qloop: 内存不足\n", stderr);
        return QLOOP_EXIT_INTERNAL;
    }
    bool help;
    struct problem p = {0};
    int rc = parse(&a, argc, argv, skip, &help, &p);
    if (help) {
        cli_print_help(cmd, group);
        rc = QLOOP_EXIT_OK;
    } else if (rc != 0) {
        cli_fail(&a, "%s", p.msg);
    } else {
        rc = cmd->run(&a);
    }
    free(a.pos);
    free(a.given);
    return rc;
}

int cli_run_command(const struct cli_command *cmd, int argc, char **argv)
{
    return run(cmd, NULL, argc, argv, 0);
}

/* Whether option word w (without its "=value") takes a value in some
 * subcommand of g, so that the word after it is that value. */
static bool takes_value_somewhere(const struct cli_group *g, const char *w)
{
    bool shrt = w[1] != '-';
    const char *name = w + (shrt ? 1 : 2);
    if (strchr(name, '='))
        return false;
    for (size_t i = 0; i < g->nsubs; i++) {
        int k = find_option(&g->subs[i], name, strlen(name), shrt);
        if (k >= 0 && g->subs[i].options[k].value)
            return true;
    }
    return false;
}

int cli_run_group(const struct cli_group *g, int argc, char **argv)
{
    /* The subcommand is the first word that is neither an option nor the
     * value of one (options may stand before it: qloop calendar --db X show). */
    int sub = 0;
    bool help = false;
    for (int i = 1; i < argc && !sub; i++) {
        const char *w = argv[i];
        if (strcmp(w, "--") == 0) {
            if (i + 1 < argc)
                sub = i + 1;
            break;
        }
        if (is_help(w))
            help = true;
        else if (w[0] != '-' || w[1] == '\0')
            sub = i;
        else if (takes_value_somewhere(g, w))
            i++;
    }
    if (!sub) {
        print_group_help(g, help ? stdout : stderr);
        if (help)
            return QLOOP_EXIT_OK;
        fprintf(stderr, "qloop: %s：缺少子命令\n", g->name);
        return QLOOP_EXIT_INPUT;
    }
    for (size_t i = 0; i < g->nsubs; i++)
        if (strcmp(argv[sub], g->subs[i].name) == 0)
            return run(&g->subs[i], g->name, argc, argv, sub);
    fprintf(stderr, "qloop: %s：未知子命令“%s”；可用：", g->name, argv[sub]);
    for (size_t i = 0; i < g->nsubs; i++)
        fprintf(stderr, "%s%s", i ? "、" : "", g->subs[i].name);
    fprintf(stderr, "（qloop %s --help）\n", g->name);
    return QLOOP_EXIT_INPUT;
}

/* ---- accessors ------------------------------------------------------------- */

const char *cli_opt(const struct cli_args *a, const char *name)
{
    int k = find_option(a->cmd, name, strlen(name), false);
    for (int i = a->ngiven - 1; i >= 0; i--)
        if (a->given[i].opt == k)
            return a->given[i].value;
    return NULL;
}

bool cli_flag(const struct cli_args *a, const char *name)
{
    return cli_opt(a, name) != NULL;
}

const char *cli_next(const struct cli_args *a, const char *name, int *i)
{
    int k = find_option(a->cmd, name, strlen(name), false);
    for (; *i < a->ngiven; ++*i)
        if (a->given[*i].opt == k)
            return a->given[(*i)++].value;
    return NULL;
}
