/*
 * guard/inject — prompt-injection detection and prompt fencing.
 *
 * The detector looks for attack *families*, not for strings seen in any data set: instruction
 * override, persona hijack, system-prompt extraction, tool/exfiltration bait, output
 * manipulation, text that addresses the answer being written ("in your response"), text that
 * addresses an AI reader, forged chat-template and context delimiters, the override phrase in
 * other languages, dangerous code, token floods, and obfuscation (base64/hex/rot13 payloads,
 * zero-width and bidi characters, homoglyphs, leetspeak). Text is normalised before matching
 * (invisible characters stripped, confusables folded to ASCII, NFKC-like compatibility
 * folding and mark stripping, lower case, leetspeak undone inside mixed letter/digit words),
 * every match is mapped back to byte offsets of the caller's text, and the features combine
 * in a logistic score with weights per input kind (a question typed by a user, or a document
 * / retrieved chunk). Thresholds and weights are in inject.c; docs/injection.md explains them
 * and how they were measured.
 *
 * The fence wraps untrusted text for a prompt between markers that carry a per-request random
 * id (128 bits from libsodium), after neutralising anything inside that could pass for a
 * marker or a chat-template control token, so a document can neither close its own fence nor
 * open a system turn.
 */
#ifndef CAIRN_GUARD_INJECT_H
#define CAIRN_GUARD_INJECT_H

#include "base/base.h"

/* Scans text[0..len) (any bytes; invalid UTF-8 is stepped over) and fills *out.
 * CAIRN_EINVAL for a NULL argument or an unknown kind, CAIRN_ETOOBIG above 1 GiB,
 * CAIRN_ENOMEM. */
cairn_status cn_inject_scan(const char *text, size_t len, cairn_injection_kind kind,
                            cairn_injection_result *out, cn_err *err);

/* The decision of a policy for one scanned text (see cairn_injection_decide). */
cairn_injection_action cn_inject_decide(cairn_injection_policy policy, const cairn_injection_result *r);

/* ---- normalisation (inject_norm.c), exposed for the tests ---------------------------- */

/* A normalised view of some text: lower-case, folded, invisible characters removed,
 * whitespace runs collapsed (to '\n' when they hold a line break, else ' '). map[i] is the
 * byte offset in the original text of view byte i; map[n] = the original length. */
typedef struct cn_inj_view {
	char *s;
	uint32_t *map;
	size_t n, cap;
	uint32_t n_invisible;  /* suspicious invisible characters (zero-width inside words, bidi controls, tags) */
	uint32_t n_homoglyph;  /* words mixing Latin with Cyrillic/Greek look-alikes */
	uint32_t n_leet;       /* words where digits/symbols stood for letters */
	uint32_t n_zalgo;      /* runs of 4+ combining marks stacked on one character */
	uint32_t first_invisible, first_homoglyph, first_zalgo; /* original offsets of the first of each */
} cn_inj_view;

cairn_status cn_inj_view_build(const char *text, size_t len, cn_inj_view *v);
void cn_inj_view_free(cn_inj_view *v);

/* Decodes a base64 (standard or URL alphabet, padding optional) or hex string into out;
 * false when s is not valid in that encoding. */
bool cn_inj_base64_decode(const char *s, size_t n, cn_buf *out);
bool cn_inj_hex_decode(const char *s, size_t n, cn_buf *out);

/* ---- fencing (inject_fence.c) -------------------------------------------------------- */

/* Appends text[0..len) to out between the fence's BEGIN and END lines, label (may be NULL;
 * reduced to [A-Za-z0-9 ._:/-], at most 80 bytes) named on the BEGIN line. Inside the text
 * every occurrence of the fence id (any case), every "<<<"/">>>" run and every chat-template
 * control token is neutralised, and NUL bytes become U+FFFD. Out-of-memory is recorded in out->failed. */
void cn_fence_wrap(const cairn_fence *f, const char *label, const char *text, size_t len, cn_buf *out);
/* Appends the instruction-hierarchy preamble that names this fence's markers. */
void cn_fence_preamble(const cairn_fence *f, cn_buf *out);
/* Appends text[0..len) with the neutralisation of cn_fence_wrap applied (no markers). */
void cn_fence_neutralise(const cairn_fence *f, const char *text, size_t len, cn_buf *out);

#endif
