/*
 * cairn eval safety — the guards through the whole answer path (cairn_eval_safety): one
 * table row per data set with the rates that matter for its check, then the verdict on
 * leakage, or the same as JSON. Exit status 1 when a strict value leaked, so the command can
 * gate CI as it is.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn.h"
#include "commands.h"

static double rate(int64_t k, int64_t n)
{
	return n ? (double)k / (double)n : 0.0;
}

static int progress(const cairn_ingest_progress *p, void *ud)
{
	(void)ud;
	if (isatty(2))
		fprintf(stderr, "\rsafety %lld/%lld   ", (long long)p->files_done, (long long)p->files_total);
	return 0;
}

int cli_cmd_eval_safety(int argc, char **argv)
{
	cairn_safety_eval_params p = cairn_safety_eval_default_params();
	bool json = false;
	const char *root = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--data-root"))
			root = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--max"))
			p.max_per_set = (int)cli_parse_long(a, cli_need(argc, argv, &i), 0, 100000000);
		else if (!strcmp(a, "--seed"))
			p.seed = (uint64_t)cli_parse_long(a, cli_need(argc, argv, &i), 0, 0x7fffffffffffffffLL);
		else if (!strcmp(a, "--work-dir"))
			p.work_dir = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--json"))
			json = true;
		else
			cli_die_usage("eval safety: unknown argument %s (--data-root DIR, --max N, --seed N, --work-dir DIR, --json)",
			              a);
	}
	char def[4096];
	if (!root) {
		const char *sh = getenv("CAIRN_SHARED");
		snprintf(def, sizeof def, "%s/data", sh && *sh ? sh : "../shared");
		root = def;
	}
	p.data_root = root;
	p.on_progress = progress;
	cairn_safety_eval_report r;
	char err[1024];
	if (cairn_eval_safety(&p, &r, err, sizeof err) != CAIRN_OK) {
		if (isatty(2))
			fprintf(stderr, "\n");
		fprintf(stderr, "%s: eval safety: %s\n", cli_prog, err);
		return 1;
	}
	if (isatty(2))
		fprintf(stderr, "\r%40s\r", "");
	if (json) {
		printf("{\"data_root\":");
		cli_print_json_string(stdout, root);
		printf(",\"cairn_version\":\"%s\",\"seed\":%llu,\"max_per_set\":%d,\"documents\":%lld,\"leaks\":%lld,"
		       "\"seconds\":%.3f,\"rows\":[",
		       r.version, (unsigned long long)r.seed, r.max_per_set, (long long)r.documents, (long long)r.leaks,
		       r.seconds);
		for (size_t i = 0; i < r.n_rows; i++) {
			const cairn_safety_row *w = &r.rows[i];
			printf("%s{\"name\":", i ? "," : "");
			cli_print_json_string(stdout, w->name);
			printf(",\"check\":\"%s\",\"present\":%s,\"n\":%lld,\"refused\":%lld,\"flagged\":%lld,\"echoed\":%lld,"
			       "\"retrieved\":%lld,\"quarantined\":%lld,\"values\":%lld,\"leaked\":%lld,\"leaked_meta\":%lld,"
			       "\"leaked_explain\":%lld,\"soft_values\":%lld,\"soft_leaked\":%lld,\"soft_leaked_meta\":%lld,"
			       "\"soft_leaked_explain\":%lld,\"refusal_rate\":%.4f,"
			       "\"flag_rate\":%.4f,\"quarantine_rate\":%.4f}",
			       w->check, w->present ? "true" : "false", (long long)w->n, (long long)w->refused,
			       (long long)w->flagged, (long long)w->echoed, (long long)w->retrieved, (long long)w->quarantined,
			       (long long)w->values, (long long)w->leaked, (long long)w->leaked_meta, (long long)w->leaked_explain,
			       (long long)w->soft_values, (long long)w->soft_leaked, (long long)w->soft_leaked_meta,
			       (long long)w->soft_leaked_explain, rate(w->refused, w->n),
			       rate(w->flagged, w->n), rate(w->quarantined, !strcmp(w->check, "planted") ? w->retrieved : w->n));
		}
		printf("]}\n");
		return r.leaks ? 1 : 0;
	}
	printf("%-32s %-9s %5s  %s\n", "data set", "check", "n", "result");
	for (size_t i = 0; i < r.n_rows; i++) {
		const cairn_safety_row *w = &r.rows[i];
		printf("%-32s %-9s %5lld  ", w->name, w->check, (long long)w->n);
		if (!w->present)
			printf("absent\n");
		else if (!strcmp(w->check, "injection"))
			printf("refused %.3f  flagged %.3f  answers echoing a marker %lld\n", rate(w->refused, w->n),
			       rate(w->flagged, w->n), (long long)w->echoed);
		else if (!strcmp(w->check, "planted"))
			printf("quarantined %.3f (%lld of %lld retrieved)  answers quoting the attack %lld\n",
			       rate(w->quarantined, w->retrieved), (long long)w->quarantined, (long long)w->retrieved,
			       (long long)w->echoed);
		else if (!strcmp(w->check, "leakage"))
			printf("strict %lld values: answer %lld, title %lld, explain %lld;  soft %lld: answer %lld, title %lld, "
			       "explain %lld\n",
			       (long long)w->values, (long long)w->leaked, (long long)w->leaked_meta, (long long)w->leaked_explain,
			       (long long)w->soft_values, (long long)w->soft_leaked, (long long)w->soft_leaked_meta,
			       (long long)w->soft_leaked_explain);
		else
			printf("refused %.3f  flagged %.3f  answers with a quarantined chunk %.3f\n", rate(w->refused, w->n),
			       rate(w->flagged, w->n), rate(w->quarantined, w->n));
	}
	printf("\nstrict leaks: %lld   (%lld documents, seed %llu, max %d per set, cairn %s, %.1f s)\n", (long long)r.leaks,
	       (long long)r.documents, (unsigned long long)r.seed, r.max_per_set, r.version, r.seconds);
	return r.leaks ? 1 : 0;
}
