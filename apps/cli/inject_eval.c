/*
 * cairn eval injection — the prompt-injection detector's detection and false-positive rates
 * on the labelled data sets (cairn_injection_eval), as a table per data set with the tuning
 * and held-out halves side by side, or as JSON. --show-misses prints the tuning half's missed
 * attacks and false positives (never the held-out half's: looking at those would turn the
 * held-out half into a second tuning half).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn.h"
#include "commands.h"

static void show_item(const cairn_injection_eval_row *row, int half, const char *text, size_t len,
                      const cairn_injection_result *r, void *ud)
{
	(void)ud;
	if (half != 0 || (row->attacks ? r->flagged : !r->flagged))
		return;
	fprintf(stderr, "%s [%s] score %.3f:", row->attacks ? "MISS" : "FP", row->dataset, r->score);
	for (int f = 0; f < CAIRN_INJ_NFEATURES; f++)
		if (r->reasons & (1u << f))
			fprintf(stderr, " %s(%.1f)", cairn_injection_feature_name((cairn_injection_feature)f), r->weight[f]);
	fputs("\n    ", stderr);
	size_t n = len < 400 ? len : 400;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		fputc(c == '\n' ? ' ' : (c < 0x20 ? '?' : c), stderr);
	}
	fputs(len > n ? "…\n" : "\n", stderr);
}

static double rate(int64_t k, int64_t n)
{
	return n ? (double)k / (double)n : 0.0;
}

int cli_cmd_eval_injection(int argc, char **argv)
{
	const char *root = NULL, *docs = "docs";
	bool json = false, misses = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--data-root"))
			root = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--docs"))
			docs = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--json"))
			json = true;
		else if (!strcmp(a, "--show-misses"))
			misses = true;
		else
			cli_die_usage("eval injection: unknown argument %s", a);
	}
	static char def[4096];
	if (!root) {
		const char *sh = getenv("CAIRN_SHARED");
		snprintf(def, sizeof def, "%s/data", sh && *sh ? sh : "../shared");
		root = def;
	}
	cairn_injection_eval_report rep;
	char err[1024];
	if (cairn_injection_eval(root, docs, misses ? show_item : NULL, NULL, &rep, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: eval injection: %s\n", cli_prog, err);
		return 1;
	}
	if (json) {
		printf("{\"data_root\":");
		cli_print_json_string(stdout, root);
		printf(",\"datasets\":[");
		for (size_t i = 0; i < rep.n_rows; i++) {
			const cairn_injection_eval_row *r = &rep.rows[i];
			printf("%s{\"dataset\":", i ? "," : "");
			cli_print_json_string(stdout, r->dataset);
			printf(",\"kind\":\"%s\",\"label\":\"%s\",\"present\":%s,"
			       "\"tuning\":{\"n\":%lld,\"flagged\":%lld,\"rate\":%.4f},"
			       "\"held_out\":{\"n\":%lld,\"flagged\":%lld,\"rate\":%.4f}}",
			       r->kind == CAIRN_INJECTION_QUESTION ? "question" : "document", r->attacks ? "attack" : "benign",
			       r->present ? "true" : "false", (long long)r->n[0], (long long)r->flagged[0],
			       rate(r->flagged[0], r->n[0]), (long long)r->n[1], (long long)r->flagged[1],
			       rate(r->flagged[1], r->n[1]));
		}
		printf("],\"detection\":{\"tuning\":%.4f,\"held_out\":%.4f},"
		       "\"false_positives\":{\"tuning\":%.4f,\"held_out\":%.4f},"
		       "\"attacks\":{\"tuning\":%lld,\"held_out\":%lld},\"benign\":{\"tuning\":%lld,\"held_out\":%lld},"
		       "\"seconds\":%.3f}\n",
		       rate(rep.detected[0], rep.attacks[0]), rate(rep.detected[1], rep.attacks[1]),
		       rate(rep.false_pos[0], rep.benign[0]), rate(rep.false_pos[1], rep.benign[1]),
		       (long long)rep.attacks[0], (long long)rep.attacks[1], (long long)rep.benign[0],
		       (long long)rep.benign[1], rep.seconds);
		return 0;
	}
	printf("%-32s %-9s %-7s %17s   %17s\n", "data set", "scored as", "label", "tuning half", "held-out half");
	printf("%-32s %-9s %-7s %6s %5s %5s   %6s %5s %5s\n", "", "", "", "n", "flag", "rate", "n", "flag", "rate");
	for (size_t i = 0; i < rep.n_rows; i++) {
		const cairn_injection_eval_row *r = &rep.rows[i];
		if (!r->present) {
			printf("%-32s (not found under %s)\n", r->dataset, root);
			continue;
		}
		printf("%-32s %-9s %-7s %6lld %5lld %5.3f   %6lld %5lld %5.3f\n", r->dataset,
		       r->kind == CAIRN_INJECTION_QUESTION ? "question" : "document", r->attacks ? "attack" : "benign",
		       (long long)r->n[0], (long long)r->flagged[0], rate(r->flagged[0], r->n[0]), (long long)r->n[1],
		       (long long)r->flagged[1], rate(r->flagged[1], r->n[1]));
	}
	printf("\ndetection on attacks      tuning %.3f (%lld/%lld)   held-out %.3f (%lld/%lld)\n",
	       rate(rep.detected[0], rep.attacks[0]), (long long)rep.detected[0], (long long)rep.attacks[0],
	       rate(rep.detected[1], rep.attacks[1]), (long long)rep.detected[1], (long long)rep.attacks[1]);
	printf("false positives, benign   tuning %.3f (%lld/%lld)   held-out %.3f (%lld/%lld)\n",
	       rate(rep.false_pos[0], rep.benign[0]), (long long)rep.false_pos[0], (long long)rep.benign[0],
	       rate(rep.false_pos[1], rep.benign[1]), (long long)rep.false_pos[1], (long long)rep.benign[1]);
	printf("(%.2f s)\n", rep.seconds);
	return 0;
}
