/*
 * entry.h — the catalog's model, shared by the files of engine/catalog/ and
 * no part of the catalog's interface (catalog.h): the elements of a catalog
 * entry with their Chinese names and enumerated codes; an entry and a whole
 * catalog in memory; the text splitting the CSV and JSON forms share; and
 * the canonical JSON of an entry, which history, show and the diffs store
 * and compare.
 */
#ifndef QLOOP_CATALOG_ENTRY_H
#define QLOOP_CATALOG_ENTRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* ---- the elements of a catalog entry ---- */

enum elem {
    E_DATASET, E_TITLE, E_SYSTEM, E_OWNER, E_FIELDS, E_FORMAT, E_SHARE, E_SHARE_BASIS,
    E_OPEN, E_OPEN_BASIS, E_PROVISION, E_UPDATE_CYCLE, E_SHARE_PERIOD, E_SENSITIVE, E_KEY,
    NELEM
};

/* One value of an enumerated element. */
struct cat_code {
    const char *code; /* stored, English */
    const char *zh;   /* as staff write it */
    const char *alt;  /* another spelling accepted, or NULL */
};

struct cat_element {
    const char *key;              /* JSON key and column of catalog_datasets */
    const char *zh;               /* CSV header and name in messages */
    const struct cat_code *codes; /* enumerated values ({NULL} ends), or NULL for free text */
    bool required;                /* 宁波 第十条 (and the provider) */
};

extern const struct cat_element cat_elements[NELEM];

/* Whether element el is one text value stored in its own column (all but
 * the dataset id, the data items and the sensitive list). */
bool cat_is_scalar(int el);

/* The element whose JSON key is key, or -1. */
int cat_element_by_key(const char *key);

/* ---- entries ---- */

struct cat_field {
    char *name, *label, *type;
    bool sensitive;
};

struct cat_entry {
    char *v[NELEM];            /* scalar elements and E_DATASET; NULL when empty */
    struct cat_field *fields;  /* E_FIELDS */
    size_t nfields;
    char **sens;               /* E_SENSITIVE as read, before it marks fields */
    size_t nsens;
    long line;                 /* CSV line, or 0 */
    size_t index;              /* position in a JSON file */
};

/* A whole catalog; a zeroed struct is empty. */
struct catalog {
    struct cat_entry *v;
    size_t n;
};

/* Frees every entry of c; c is empty afterwards. */
void cat_clear(struct catalog *c);

/* Appends a zeroed entry to c and returns it (valid until the next add). */
struct cat_entry *cat_add(struct catalog *c);

/* The entry of dataset name, or NULL. */
struct cat_entry *cat_find(const struct catalog *c, const char *name);

/* Sorts c by dataset name. */
void cat_sort(struct catalog *c);

/* The data item of e called name, or NULL. */
struct cat_field *cat_entry_field(const struct cat_entry *e, const char *name);

/* Equality of two optional strings (both NULL is equal). */
bool cat_str_eq(const char *a, const char *b);

/* ---- text ---- */

/* Length of the white space (ASCII or U+3000 ideographic space) at s. */
size_t cat_space_at(const char *s, size_t len);

/* A trimmed copy of s[0..len), or NULL when nothing is left. */
char *cat_trim(const char *s, size_t len);

/* Separators: of data items (; ； line break), of the parts of one item
 * (: ：), of names in a list (; ； , ， 、 line break). */
extern const char *const cat_item_seps[];
extern const char *const cat_part_seps[];
extern const char *const cat_name_seps[];

/* Splits s at any of seps into trimmed, non-empty parts (or, with
 * keep_empty, every part). Returns the count; *out is a new array. */
size_t cat_split(const char *s, const char *const *seps, bool keep_empty, char ***out);

/* Frees a list made by cat_split(). */
void cat_free_list(char **v, size_t n);

/* ---- canonical JSON of an entry ---- */

/* A JSON string of s, or null when s is NULL (or not UTF-8). */
json_t *cat_jstr(const char *s);

/* {"name", "label", "type", "sensitive"} of one data item. */
json_t *cat_field_json(const struct cat_field *f);

/* The import form of an entry: keys in catalog order, fields as objects,
 * empty elements null. */
json_t *cat_entry_json(const struct cat_entry *e);

/* v as compact text, keys in insertion order (caller frees). */
char *cat_dump(json_t *v);

#endif
