/*
 * measures.c — user-chosen measure lists ("ndcg_cut.10,P.5,recall.100") and evaluating one
 * query on such a list.
 *
 * The names are trec_eval's (its -m syntax: "P.5,10" asks for P_5 and P_10), so a list that
 * works with trec_eval works here and the output names match its output. Each measure is a
 * call to the kernels of metrics.c on the query's grade array, so the fixed-cutoff path
 * (cn_eval_query) and this one cannot disagree.
 */
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

typedef struct mname {
	const char *name;
	cn_mkind kind;
	bool cut;
	unsigned flags;
} mname;

static const mname names[] = {
	{"num_rel", CN_MK_NUM_REL, false, 0},     {"num_ret", CN_MK_NUM_RET, false, 0},
	{"num_rel_ret", CN_MK_NUM_REL_RET, false, 0}, {"map", CN_MK_MAP, false, 0},
	{"Rprec", CN_MK_RPREC, false, 0},         {"recip_rank", CN_MK_RECIP_RANK, false, 0},
	{"ndcg", CN_MK_NDCG, false, 0},           {"ndcg_cut", CN_MK_NDCG_CUT, true, 0},
	{"mrr_cut", CN_MK_MRR_CUT, true, 0},      {"P", CN_MK_P, true, 0},
	{"recall", CN_MK_RECALL, true, 0},        {"success", CN_MK_SUCCESS, true, 0},
	/* Answer measures (docs/answers.md#measures): one value per question where it applies. */
	{"em", CN_MK_VALUE, false, 0},
	{"f1", CN_MK_VALUE, false, 0},
	{"rouge_l", CN_MK_VALUE, false, 0},
	{"bleu", CN_MK_VALUE, false, 0},
	{"support_rate", CN_MK_VALUE, false, 0},
	{"citation_precision", CN_MK_VALUE, false, 0},
	{"citation_recall", CN_MK_VALUE, false, 0},
	{"answered", CN_MK_VALUE, false, 0},               /* answerable questions */
	{"abstained_unanswerable", CN_MK_VALUE, false, 0}, /* unanswerable questions */
	{"refused", CN_MK_VALUE, false, CN_MF_LOWER_BETTER},
	{"ttft_ms", CN_MK_VALUE, false, CN_MF_LOWER_BETTER | CN_MF_UNBOUNDED | CN_MF_TIMING},
	{"tokens_in", CN_MK_VALUE, false, CN_MF_LOWER_BETTER | CN_MF_UNBOUNDED},
	{"tokens_out", CN_MK_VALUE, false, CN_MF_LOWER_BETTER | CN_MF_UNBOUNDED},
	{"cost", CN_MK_VALUE, false, CN_MF_LOWER_BETTER | CN_MF_UNBOUNDED},
};

#define N_RETRIEVAL_NAMES 12 /* names[] up to "success"; the answer measures follow */

size_t cn_answer_measures(const char *const **out)
{
	static const char *const list[] = {"em", "f1", "rouge_l", "bleu", "support_rate", "citation_precision",
	                                   "citation_recall", "answered", "abstained_unanswerable", "refused",
	                                   "ttft_ms", "tokens_in", "tokens_out", "cost"};
	_Static_assert(sizeof list / sizeof list[0] + N_RETRIEVAL_NAMES == sizeof names / sizeof names[0],
	               "every answer measure is listed");
	*out = list;
	return sizeof list / sizeof list[0];
}

static const mname *lookup(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i].name) == n && !memcmp(names[i].name, s, n))
			return &names[i];
	return NULL;
}

static const char *lookup_name_of(cn_mkind kind)
{
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].kind == kind)
			return names[i].name;
	return "?";
}

static bool parse_k(const char *s, size_t n, size_t *k)
{
	int64_t v;
	if (!cn_parse_i64(s, n, &v) || v < 1 || v > CN_MSPEC_KMAX)
		return false;
	*k = (size_t)v;
	return true;
}

static void set_name(cn_mspec *m, const char *base)
{
	if (m->k)
		snprintf(m->name, sizeof m->name, "%s_%zu", base, m->k);
	else
		snprintf(m->name, sizeof m->name, "%s", base);
}

bool cn_mspec_from_name(const char *name, cn_mspec *out)
{
	size_t n = strlen(name);
	const mname *e = lookup(name, n);
	memset(out, 0, sizeof *out);
	if (e && !e->cut) {
		out->kind = e->kind;
		out->flags = e->flags;
		set_name(out, e->name);
		return true;
	}
	/* "<base>_<k>" or "<base>.<k>": split at the last separator. */
	for (size_t i = n; i-- > 0;)
		if (name[i] == '_' || name[i] == '.') {
			e = lookup(name, i);
			if (!e || !e->cut || !parse_k(name + i + 1, n - i - 1, &out->k))
				return false;
			out->kind = e->kind;
			set_name(out, e->name);
			return true;
		}
	return false;
}

static bool add_spec(cn_mspec *out, size_t cap, size_t *n, const cn_mspec *m)
{
	for (size_t i = 0; i < *n; i++)
		if (out[i].kind == m->kind && out[i].k == m->k)
			return true; /* already listed */
	if (*n >= cap)
		return false;
	out[(*n)++] = *m;
	return true;
}

cairn_status cn_mspec_parse(const char *list, cn_mspec *out, size_t cap, size_t *n, cn_err *err)
{
	*n = 0;
	if (!list || !*list)
		list = CN_MEASURES_DEFAULT;
	const char *p = list;
	cn_mspec last;
	bool have_last = false;
	for (;;) { /* every comma is followed by an entry: "map," is an error */
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		cn_mspec m;
		char tok[64];
		if (len == 0 || len >= sizeof tok)
			return cn_err_set(err, CAIRN_EINVAL, "measures: bad entry \"%.*s\" in \"%s\"",
			                  (int)CN_MIN(len, 60), p, list);
		memcpy(tok, p, len);
		tok[len] = '\0';
		if (tok[0] >= '0' && tok[0] <= '9') { /* "P.5,10": another cutoff of the last measure */
			m = last;
			if (!have_last || !parse_k(tok, len, &m.k))
				return cn_err_set(err, CAIRN_EINVAL,
				                  "measures: \"%s\" in \"%s\" is not a cutoff of a preceding cut measure "
				                  "(1..%d)", tok, list, CN_MSPEC_KMAX);
			set_name(&m, lookup_name_of(m.kind));
		} else if (!cn_mspec_from_name(tok, &m) || m.kind == CN_MK_VALUE) {
			return cn_err_set(err, CAIRN_EINVAL,
			                  "measures: unknown %smeasure \"%s\" (known: map, Rprec, recip_rank, ndcg, "
			                  "ndcg_cut.K, mrr_cut.K, P.K, recall.K, success.K, num_rel, num_ret, "
			                  "num_rel_ret; K in 1..%d)", m.kind == CN_MK_VALUE ? "retrieval " : "", tok,
			                  CN_MSPEC_KMAX);
		}
		have_last = m.k > 0;
		last = m;
		if (!add_spec(out, cap, n, &m))
			return cn_err_set(err, CAIRN_EINVAL, "measures: more than %zu in \"%s\"", cap, list);
		if (!e)
			break;
		p = e + 1;
	}
	if (*n == 0)
		return cn_err_set(err, CAIRN_EINVAL, "measures: empty list");
	return CAIRN_OK;
}
