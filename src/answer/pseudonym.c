/*
 * pseudonym — personal data out of prompts that leave the machine, and back into the reply.
 *
 * Design: before a prompt goes to a remote endpoint, every finding of the PII detectors
 * (guard: identifiers, secrets, names, addresses) is replaced by a placeholder such as
 * "[EMAIL_ADDRESS_1]"; the same value always gets the same placeholder within one question,
 * so the model can still tell two people apart and refer to them consistently. The mapping
 * lives only in memory for the duration of the call. The reply is then restored: each known
 * placeholder is replaced by its value, so quotes can be checked against the real passages
 * and the user sees real text. A placeholder the model mangled stays as it is, and the
 * verifier treats the sentence as it would any unsupported one.
 */
#include <stdio.h>
#include <string.h>

#include "answer/answer.h"

/* Same list the audit trail masks: dates and places stay, the model needs them to answer. */
#define PSEUDO_TYPES "EMAIL_ADDRESS,PHONE_NUMBER,US_SSN,CREDIT_CARD,IBAN_CODE,IP_ADDRESS,MAC_ADDRESS," \
	"US_DRIVER_LICENSE,API_KEY,JWT,PRIVATE_KEY,SECRET,PERSON,STREET_ADDRESS"

void cn_pseudo_init(cn_pseudo *p)
{
	memset(p, 0, sizeof *p);
	cn_strmap_init(&p->values);
	cn_strmap_init(&p->labels);
}

void cn_pseudo_free(cn_pseudo *p)
{
	cn_strmap_free(&p->values);
	cn_strmap_free(&p->labels);
	cn_free(p->label_of);
	cn_free(p->value_of);
	memset(p, 0, sizeof *p);
}

cairn_status cn_pseudo_apply(cn_pseudo *p, const char *text, size_t len, cn_buf *out, cn_err *err)
{
	cairn_pii_params pp = cairn_pii_default_params();
	pp.types = PSEUDO_TYPES;
	cairn_pii_finding *f = NULL;
	size_t nf = 0;
	char msg[256];
	if (cairn_pii_scan(text, len, &pp, &f, &nf, msg, sizeof msg) != CAIRN_OK)
		return cn_err_set(err, CAIRN_ENOMEM, "masking personal data for the endpoint: %s", msg);
	size_t at = 0;
	cairn_status st = CAIRN_OK;
	for (size_t i = 0; !st && i < nf; i++) {
		uint32_t vid;
		bool added;
		st = cn_strmap_put(&p->values, text + f[i].start, f[i].end - f[i].start, &vid, &added);
		if (st)
			break;
		if (added) {
			char label[64];
			size_t cap = p->cap;
			if (vid >= cap) {
				size_t ncap = cap ? cap * 2 : 16;
				uint32_t *lo = cn_realloc(p->label_of, ncap * sizeof *lo);
				if (lo)
					p->label_of = lo;
				uint32_t *vo = cn_realloc(p->value_of, ncap * sizeof *vo);
				if (vo)
					p->value_of = vo;
				if (!lo || !vo) {
					st = CAIRN_ENOMEM;
					break;
				}
				p->cap = ncap;
			}
			int n = snprintf(label, sizeof label, "[%s_%u]", f[i].type, (unsigned)vid + 1);
			uint32_t lid;
			bool ladded;
			st = cn_strmap_put(&p->labels, label, (size_t)n, &lid, &ladded);
			if (st)
				break;
			p->label_of[vid] = lid;
			p->value_of[lid] = vid;
			p->replaced++;
		}
		cn_buf_append(out, text + at, f[i].start - at);
		uint32_t lid = p->label_of[vid];
		cn_buf_append(out, cn_strmap_key(&p->labels, lid), cn_strmap_klen(&p->labels, lid));
		at = f[i].end;
	}
	cairn_pii_findings_free(f);
	if (!st)
		cn_buf_append(out, text + at, len - at);
	if (st || out->failed)
		return cn_err_set(err, CAIRN_ENOMEM, "out of memory masking personal data");
	return CAIRN_OK;
}

cairn_status cn_pseudo_restore(const cn_pseudo *p, const char *text, size_t len, cn_buf *out, cn_err *err)
{
	size_t at = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] != '[' || !p->cap)
			continue;
		/* placeholders are short: "[" TYPE "_" N "]" */
		size_t j = i + 1;
		while (j < len && j - i < 48 && text[j] != ']' && text[j] != '[')
			j++;
		if (j >= len || text[j] != ']')
			continue;
		uint32_t lid = cn_strmap_get(&p->labels, text + i, j + 1 - i);
		if (lid == UINT32_MAX)
			continue;
		uint32_t vid = p->value_of[lid];
		cn_buf_append(out, text + at, i - at);
		cn_buf_append(out, cn_strmap_key(&p->values, vid), cn_strmap_klen(&p->values, vid));
		at = j + 1;
		i = j;
	}
	cn_buf_append(out, text + at, len - at);
	return out->failed ? cn_err_set(err, CAIRN_ENOMEM, "out of memory restoring personal data") : CAIRN_OK;
}
