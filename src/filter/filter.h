/*
 * filter — metadata filter expressions, compiled once per query and bound to each index
 * segment, so filters are evaluated inside the index walk (never after top-k).
 *
 * Every indexed chunk carries a sorted list of labels (strings) and a modification time:
 *   "tag:<key>=<value>"  one per tag (from --tag k=v, or JSON Lines metadata keys)
 *   "group:<name>"       one per access group (--acl)
 *   "format:<fmt>"       markdown, html, text, code, jsonl
 *   "source:<path>"      the document's source path
 *   "doc:<doc_id>"       the document id
 * A segment stores its distinct labels once, in a dictionary, and per document the ids of
 * its labels; binding a filter to a segment resolves label patterns to id sets once.
 *
 * Expression language (docs/search.md):
 *   expr   := or
 *   or     := and ( "OR" and )*
 *   and    := unary ( ["AND"] unary )*          juxtaposition means AND
 *   unary  := "NOT" unary | "(" expr ")" | cond
 *   cond   := KEY op VALUE
 *   op     := "=" | "!=" | ">" | ">=" | "<" | "<="
 *   KEY    := tag key | "group" | "format" | "source" | "doc" | "modified"
 *   VALUE  := bare word or "double-quoted string"; "*" and "?" glob in = and !=
 * "modified" compares the modification time with a date "YYYY-MM-DD", a date-time
 * "YYYY-MM-DDTHH:MM:SS[Z]" (UTC), or epoch seconds. A KEY that is not one of the reserved
 * names is a tag key: `team=eng` matches label "tag:team=eng".
 *
 * Access control is a separate, always-ANDed clause: with a principal's groups given, a
 * chunk passes when it has no "group:" labels (public) or shares at least one group.
 */
#ifndef CAIRN_FILTER_H
#define CAIRN_FILTER_H

#include "base/base.h"

typedef struct cn_filter cn_filter;

/* expr may be NULL or empty (no condition). groups NULL = no access restriction;
 * groups non-NULL with n_groups 0 = principal with no groups (sees only public chunks). */
cairn_status cn_filter_compile(const char *expr, const char *const *groups, size_t n_groups,
                               cn_filter **out, cn_err *err);
void cn_filter_free(cn_filter *f);
bool cn_filter_is_empty(const cn_filter *f); /* true when it can never reject */
/* Closed access control: with a groups clause, a document without any group is rejected
 * (instead of public). No effect on a filter compiled with groups NULL. */
void cn_filter_set_closed(cn_filter *f, bool closed);

/* What a segment exposes for binding. */
typedef struct cn_label_source {
	uint32_t n_labels;
	/* label i as bytes (not NUL-terminated); labels are sorted bytewise */
	const char *(*label)(const void *ctx, uint32_t i, uint32_t *len);
	const void *ctx;
} cn_label_source;

typedef struct cn_filter_bound cn_filter_bound;
cairn_status cn_filter_bind(const cn_filter *f, const cn_label_source *src, cn_filter_bound **out, cn_err *err);
void cn_filter_bound_free(cn_filter_bound *b);
/* labels: the document's label ids, ascending. */
bool cn_filter_eval(const cn_filter_bound *b, const uint32_t *labels, size_t n_labels, int64_t mtime);

/* Parses a date/time value as the filter language does; false if malformed. */
bool cn_parse_time(const char *s, int64_t *epoch_s);

#endif
