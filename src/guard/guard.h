/*
 * guard — PII detection, redaction and the token vault (this header); prompt-injection
 * detection lives beside it in inject.h.
 *
 * Design:
 *  - Detection works on bytes, never on decoded text: PCRE2 patterns are compiled without
 *    PCRE2_UTF, so invalid UTF-8 and NUL bytes are just bytes and every span is a byte range
 *    into the caller's buffer. Patterns only find candidates; validators in C decide (Luhn and
 *    issuer ranges, IBAN country lengths and mod-97, SSN area/group/serial rules, IPv6 parse),
 *    because a regex that tried to encode those rules would be unreadable and still wrong.
 *  - Every finding carries a confidence in [0,1]: a base score per format (a '+'-prefixed
 *    E.164 number is surer than seven bare digits), raised by context words in a window
 *    around the span ("phone", "ssn", "born", "iban", …) and lowered by counter-context
 *    ("order", "invoice", "isbn", …). Ambiguous formats only pass the default threshold
 *    with context; that is what keeps bare digit runs from being reported as phones.
 *  - Names, organisations, places and street addresses come from gazetteers written into
 *    pii_lex.c (given names and surnames across cultures, organisation and street suffixes,
 *    countries and large cities), capitalisation patterns, titles and context words — no
 *    neural model, so these are heuristics with measured, modest accuracy (docs/guard.md).
 *  - Overlapping candidates are resolved per cluster: highest score first, then longest.
 */
#ifndef CAIRN_GUARD_H
#define CAIRN_GUARD_H

#include "base/base.h"

typedef enum cn_pii_type {
	CN_PII_EMAIL = 0,    /* EMAIL_ADDRESS */
	CN_PII_PHONE,        /* PHONE_NUMBER */
	CN_PII_SSN,          /* US_SSN */
	CN_PII_CARD,         /* CREDIT_CARD */
	CN_PII_IBAN,         /* IBAN_CODE */
	CN_PII_IP,           /* IP_ADDRESS */
	CN_PII_MAC,          /* MAC_ADDRESS */
	CN_PII_DATE,         /* DATE_TIME */
	CN_PII_DL,           /* US_DRIVER_LICENSE */
	CN_PII_API_KEY,      /* API_KEY: provider tokens (AWS key ids, GitHub, Slack, Stripe, Google) */
	CN_PII_JWT,          /* JWT */
	CN_PII_PRIVATE_KEY,  /* PRIVATE_KEY: PEM private-key blocks */
	CN_PII_SECRET,       /* SECRET: passwords and high-entropy strings beside key/secret words */
	CN_PII_PERSON,       /* PERSON */
	CN_PII_ORG,          /* ORGANIZATION */
	CN_PII_LOCATION,     /* LOCATION (the dataset's GPE) */
	CN_PII_ADDRESS,      /* STREET_ADDRESS */
	CN_PII_NTYPES
} cn_pii_type;

const char *cn_pii_type_name(cn_pii_type t);
/* The type named name[0..len) (Presidio spelling; "GPE" is an alias of LOCATION), or -1. */
int cn_pii_type_from_name(const char *name, size_t len);

typedef struct cn_pii_finding {
	cn_pii_type type;
	uint32_t start, end; /* byte range [start, end) in the scanned text */
	float score;         /* confidence in [0, 1] */
} cn_pii_finding;

typedef struct cn_pii_opts {
	float min_score;    /* findings below are dropped (default 0.5) */
	uint32_t type_mask; /* bit (1u << type); 0 means every type */
} cn_pii_opts;

cn_pii_opts cn_pii_default_opts(void);

/* Finds PII in s[0..n) (any bytes). *out (cn_malloc, caller frees; NULL when none) gets the
 * findings sorted by start, never overlapping. Inputs of 4 GiB or more: CAIRN_ETOOBIG. */
cairn_status cn_pii_scan(const char *s, size_t n, const cn_pii_opts *opts, cn_pii_finding **out,
                         size_t *count, cn_err *err);

/* ---- validators (exposed for tests) ------------------------------------------------- */

/* Luhn checksum over the ASCII digits of s[0..n) (other bytes skipped); false when < 2 digits. */
bool cn_luhn_ok(const char *s, size_t n);
/* Issuer of a card number given as digits only: "visa", "mastercard", …, or NULL when the
 * prefix/length pair belongs to no known scheme. */
const char *cn_card_issuer(const char *digits, size_t n);
/* IBAN: country code with its registered length and the ISO 7064 mod-97 check; spaces are
 * ignored, letters may be lower case. */
bool cn_iban_ok(const char *s, size_t n);
/* SSN given as 9 digits: area not 000/666/900-999, group not 00, serial not 0000, and not one
 * of the numbers published as examples (078-05-1120, 123-45-6789, 219-09-9999, …). */
bool cn_ssn_ok(const char *digits9);
bool cn_ipv4_ok(const char *s, size_t n);
/* IPv6 text form: eight groups, or fewer with one "::", optionally ending in dotted IPv4. */
bool cn_ipv6_ok(const char *s, size_t n);
/* Shannon entropy in bits per byte of s[0..n). */
double cn_entropy(const char *s, size_t n);

/* Names, organisations, locations, addresses (pii_ner.c): appends candidates to *v. */
typedef struct cn_pii_vec {
	cn_pii_finding *v;
	size_t n, cap;
} cn_pii_vec;
cairn_status cn_pii_push(cn_pii_vec *v, cn_pii_type t, size_t start, size_t end, float score);
cairn_status cn_pii_ner(const char *s, size_t n, uint32_t type_mask, cn_pii_vec *v);
/* Case-insensitive: does a keyword of list (NULL-terminated) occur as a word within
 * `before` bytes before start or `after` bytes after end? */
bool cn_pii_context(const char *s, size_t n, size_t start, size_t end, size_t before, size_t after,
                    const char *const *words);

/* Gazetteers (pii_lex.c): membership of a word s[0..n) (case-insensitive, ASCII folding only). */
bool cn_lex_given_name(const char *s, size_t n);
bool cn_lex_surname(const char *s, size_t n);
bool cn_lex_common_word(const char *s, size_t n); /* capitalised at sentence start, not a name */
bool cn_lex_place(const char *s, size_t n);       /* countries, large cities, states */
int cn_lex_org_suffix(const char *s, size_t n);   /* 1 when a company/institution word */
int cn_lex_street_suffix(const char *s, size_t n);

/* ---- evaluation (pii_eval.c) -------------------------------------------------------- */

typedef struct cn_pii_eval_row {
	char type[32];
	int64_t gold, predicted;
	int64_t tp_exact, tp_overlap_gold, tp_overlap_pred;
} cn_pii_eval_row;

typedef struct cn_pii_eval {
	int64_t records;
	size_t nrows;
	cn_pii_eval_row rows[40];
} cn_pii_eval;

/* Scores the detector on a presidio-research JSON file (array of {full_text, spans}). split:
 * 0 all records, 1 even indices, 2 odd indices. Character offsets in the file are converted
 * to byte offsets. */
cairn_status cn_pii_eval_file(const char *path, int split, float min_score, cn_pii_eval *out,
                              cn_err *err);
/* Same, appending one line per miss, partial match and false positive to log (may be NULL). */
cairn_status cn_pii_eval_file_log(const char *path, int split, float min_score, cn_pii_eval *out,
                                  cn_buf *log, cn_err *err);

/* ---- redaction and the vault (redact.c, vault.c) ------------------------------------ */

typedef enum cn_redact_mode { CN_REDACT_MASK = 0, CN_REDACT_HASH, CN_REDACT_TOKEN } cn_redact_mode;

#define CN_VAULT_KEY_BYTES 32

typedef struct cn_vault cn_vault;
/* Opens (or, when missing, starts) the vault file at path with a 32-byte key. Every record
 * is authenticated; a tampered, truncated or wrongly keyed file fails with CAIRN_ECORRUPT. */
cairn_status cn_vault_open(const char *path, const uint8_t key[CN_VAULT_KEY_BYTES], cn_vault **out,
                           cn_err *err);
void cn_vault_close(cn_vault *v);
/* Stores value and writes its token id ("<TYPE_xxxxxxxxxxxxxxxx>" without the brackets'
 * type part: 16 hex chars, random) into id[17]. The same value and type get the same id
 * within one vault. Appends durably (fsync) before returning. */
cairn_status cn_vault_put(cn_vault *v, const char *type, const char *value, size_t len, char id[17],
                          cn_err *err);
/* The value for id, or NULL (not stored). Valid until the vault is closed. */
const char *cn_vault_get(const cn_vault *v, const char *id, size_t *len);

/* Reads a key from a file or an environment variable's value: 64 hex digits (surrounding
 * whitespace ignored) or exactly 32 raw bytes. The key is never written into err. */
cairn_status cn_key_parse(const char *text, size_t n, uint8_t key[CN_VAULT_KEY_BYTES], cn_err *err);

#endif
