/*
 * access.c — the CLI's access-control and audit commands: principal, acl, audit, show, and
 * the --as PRINCIPAL resolution search and ask share.
 *
 * --as is how a local operator acts as someone else: the principal's groups become the
 * search's access filter (an admin's none), and its name goes on the audit record. Without
 * --as the CLI is the knowledge base's owner, as a local file owner is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn.h"
#include "commands.h"

cairn_principal *cli_as_principal(cairn_kb *kb, const char *name, const char *const **groups, size_t *n_groups)
{
	cairn_principal *p = NULL;
	if (cairn_principal_get(kb, name, &p) != CAIRN_OK) {
		fprintf(stderr, "%s: --as %s: %s\n", cli_prog, name, cairn_kb_errmsg(kb));
		exit(1);
	}
	static const char *const no_groups[1];
	if (p->perms & CAIRN_PERM_ADMIN) {
		*groups = NULL;
		*n_groups = 0;
	} else {
		*groups = p->n_groups ? (const char *const *)p->groups : no_groups;
		*n_groups = p->n_groups;
	}
	return p;
}

/* Splits a comma list in place into v (at most cap entries). */
static size_t split_list(char *s, const char **v, size_t cap)
{
	size_t n = 0;
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ","))
		if (*tok) {
			if (n == cap)
				cli_die_usage("too many groups (at most %zu)", cap);
			v[n++] = tok;
		}
	return n;
}

static void print_principal(const cairn_principal *p, bool json)
{
	char perms[128];
	cairn_perms_format(p->perms, perms, sizeof perms);
	if (json) {
		printf("{\"name\":");
		cli_print_json_string(stdout, p->name);
		printf(",\"groups\":[");
		for (size_t i = 0; i < p->n_groups; i++) {
			if (i)
				putchar(',');
			cli_print_json_string(stdout, p->groups[i]);
		}
		printf("],\"permissions\":");
		cli_print_json_string(stdout, perms);
		if (p->rate > 0 || p->burst > 0)
			printf(",\"rate\":%g,\"burst\":%g", p->rate, p->burst);
		printf("}\n");
		return;
	}
	printf("%s\tgroups=", p->name);
	for (size_t i = 0; i < p->n_groups; i++)
		printf("%s%s", i ? "," : "", p->groups[i]);
	printf("\tperms=%s", *perms ? perms : "-");
	if (p->rate > 0 || p->burst > 0)
		printf("\trate=%g/s burst=%g", p->rate, p->burst);
	putchar('\n');
}

static int fail(cairn_kb *kb, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", cli_prog, what, cairn_kb_errmsg(kb));
	cairn_kb_close(kb);
	return 1;
}

int cli_cmd_principal(const char *kbdir, int argc, char **argv)
{
	if (argc < 1)
		cli_die_usage("principal: add|list|show|remove|key|revoke");
	const char *sub = argv[0];
	if (!strcmp(sub, "add") || !strcmp(sub, "set")) {
		const char *name = NULL;
		char *groups_buf = NULL;
		unsigned perms = 0;
		double rate = -1, burst = 0;
		for (int i = 1; i < argc; i++) {
			const char *a = argv[i];
			if (!strcmp(a, "--rate")) {
				const char *v = cli_need(argc, argv, &i);
				char *end;
				rate = strtod(v, &end);
				if (end == v || (*end && strcmp(end, "/s")) || !(rate >= 0 && rate <= 1e6))
					cli_die_usage("--rate wants N or N/s requests per second (0 = the server's default), not \"%s\"", v);
			} else if (!strcmp(a, "--burst"))
				burst = (double)cli_parse_long(a, cli_need(argc, argv, &i), 1, 1000000);
			else if (!strcmp(a, "--groups")) {
				free(groups_buf);
				groups_buf = strdup(cli_need(argc, argv, &i));
			} else if (!strcmp(a, "--perms")) {
				const char *v = cli_need(argc, argv, &i);
				if (cairn_perms_parse(v, &perms) != CAIRN_OK)
					cli_die_usage("--perms: \"%s\": permissions are admin, rehydrate, audit", v);
			} else if (a[0] == '-')
				cli_die_usage("principal %s: unknown option %s", sub, a);
			else if (name)
				cli_die_usage("principal %s takes one NAME", sub);
			else
				name = a;
		}
		if (!name)
			cli_die_usage("principal %s needs a NAME", sub);
		const char *groups[256];
		size_t n = groups_buf ? split_list(groups_buf, groups, 256) : 0;
		cairn_kb *kb = cli_open_kb(kbdir, true, false);
		if (cairn_principal_set(kb, name, groups, n, perms) != CAIRN_OK ||
		    ((rate >= 0 || burst > 0) && cairn_principal_set_rate(kb, name, rate > 0 ? rate : 0, burst) != CAIRN_OK)) {
			free(groups_buf);
			return fail(kb, "principal");
		}
		free(groups_buf);
		cairn_audit_entry e = {.action = "principal.set", .question = name};
		if (cairn_audit_append(kb, &e) != CAIRN_OK)
			return fail(kb, "audit");
		cairn_kb_close(kb);
		return 0;
	}
	if (!strcmp(sub, "list") || !strcmp(sub, "show")) {
		bool json = false;
		const char *name = NULL;
		for (int i = 1; i < argc; i++) {
			if (!strcmp(argv[i], "--json"))
				json = true;
			else if (argv[i][0] == '-')
				cli_die_usage("principal %s: unknown option %s", sub, argv[i]);
			else if (!strcmp(sub, "show") && !name)
				name = argv[i];
			else
				cli_die_usage("principal %s: unexpected \"%s\"", sub, argv[i]);
		}
		if (!strcmp(sub, "show") && !name)
			cli_die_usage("principal show needs a NAME");
		cairn_kb *kb = cli_open_kb(kbdir, false, true);
		if (name) {
			cairn_principal *p = NULL;
			if (cairn_principal_get(kb, name, &p) != CAIRN_OK)
				return fail(kb, "principal");
			print_principal(p, json);
			cairn_principal_free(p);
		} else {
			cairn_principal **list = NULL;
			size_t n = 0;
			if (cairn_principal_list(kb, &list, &n) != CAIRN_OK)
				return fail(kb, "principal");
			for (size_t i = 0; i < n; i++) {
				print_principal(list[i], json);
				cairn_principal_free(list[i]);
			}
			cairn_free(list);
		}
		cairn_kb_close(kb);
		return 0;
	}
	if (!strcmp(sub, "remove") || !strcmp(sub, "key") || !strcmp(sub, "revoke")) {
		if (argc != 2)
			cli_die_usage("principal %s takes one %s", sub, strcmp(sub, "revoke") ? "NAME" : "KEY_ID");
		cairn_kb *kb = cli_open_kb(kbdir, false, false);
		cairn_status st;
		char *key = NULL;
		if (!strcmp(sub, "remove"))
			st = cairn_principal_remove(kb, argv[1]);
		else if (!strcmp(sub, "key"))
			st = cairn_api_key_create(kb, argv[1], &key);
		else
			st = cairn_api_key_revoke(kb, argv[1]);
		if (st != CAIRN_OK)
			return fail(kb, "principal");
		char action[32];
		snprintf(action, sizeof action, "principal.%s", sub);
		/* The record names the key by its public id only. */
		char id[16] = "";
		if (key)
			snprintf(id, sizeof id, "%.12s", key + 3);
		cairn_audit_entry e = {.action = action, .question = argv[1], .answer = key ? id : NULL};
		st = cairn_audit_append(kb, &e);
		if (key) {
			if (st == CAIRN_OK)
				printf("%s\n", key);
			cairn_free(key);
		}
		if (st != CAIRN_OK)
			return fail(kb, "audit");
		cairn_kb_close(kb);
		return 0;
	}
	cli_die_usage("principal: unknown subcommand \"%s\" (add, list, show, remove, key, revoke)", sub);
}

int cli_cmd_acl(const char *kbdir, int argc, char **argv)
{
	if (argc != 1 || (strcmp(argv[0], "open") && strcmp(argv[0], "closed") && strcmp(argv[0], "status")))
		cli_die_usage("acl: `acl open`, `acl closed` or `acl status`");
	if (!strcmp(argv[0], "status")) {
		cairn_kb *kb = cli_open_kb(kbdir, false, true);
		printf("%s\n", cairn_kb_acl_closed(kb) ? "closed" : "open");
		cairn_kb_close(kb);
		return 0;
	}
	cairn_kb *kb = cli_open_kb(kbdir, true, false);
	int closed = !strcmp(argv[0], "closed");
	if (cairn_kb_set_acl_closed(kb, closed) != CAIRN_OK)
		return fail(kb, "acl");
	cairn_audit_entry e = {.action = closed ? "acl.closed" : "acl.open"};
	if (cairn_audit_append(kb, &e) != CAIRN_OK)
		return fail(kb, "audit");
	cairn_kb_close(kb);
	return 0;
}

static int print_record(int64_t seq, const char *record, const char *hash, void *ud)
{
	(void)seq;
	if (*(const bool *)ud)
		printf("{\"record\":%s,\"hash\":\"%s\"}\n", record, hash);
	else
		printf("%s\n", record);
	return 0;
}

int cli_cmd_audit(const char *kbdir, int argc, char **argv)
{
	if (argc < 1)
		cli_die_usage("audit: enable|disable|verify|show|head");
	const char *sub = argv[0];
	if (!strcmp(sub, "enable") || !strcmp(sub, "disable")) {
		int days = 0;
		for (int i = 1; i < argc; i++) {
			if (!strcmp(argv[i], "--retention-days") && !strcmp(sub, "enable"))
				days = (int)cli_parse_long(argv[i], cli_need(argc, argv, &i), 0, 100000);
			else
				cli_die_usage("audit %s: unknown argument %s", sub, argv[i]);
		}
		cairn_kb *kb = cli_open_kb(kbdir, true, false);
		if (cairn_audit_enable(kb, !strcmp(sub, "enable"), days) != CAIRN_OK)
			return fail(kb, "audit");
		cairn_kb_close(kb);
		return 0;
	}
	if (!strcmp(sub, "verify") || !strcmp(sub, "head")) {
		const char *expect = NULL;
		bool json = false;
		for (int i = 1; i < argc; i++) {
			if (!strcmp(argv[i], "--expect") && !strcmp(sub, "verify"))
				expect = cli_need(argc, argv, &i);
			else if (!strcmp(argv[i], "--json"))
				json = true;
			else
				cli_die_usage("audit %s: unknown argument %s", sub, argv[i]);
		}
		cairn_kb *kb = cli_open_kb(kbdir, false, true);
		cairn_audit_report r;
		cairn_status st = cairn_audit_verify(kb, expect, &r);
		if (st != CAIRN_OK && st != CAIRN_ECORRUPT)
			return fail(kb, "audit");
		if (!strcmp(sub, "head")) {
			if (st == CAIRN_OK)
				printf("%lld %s\n", (long long)r.last_seq, r.head);
		} else if (json) {
			printf("{\"ok\":%s,\"records\":%lld,\"first_seq\":%lld,\"last_seq\":%lld,\"head\":\"%s\","
			       "\"head_behind\":%lld,\"bad_seq\":%lld,\"problem\":",
			       r.ok ? "true" : "false", (long long)r.records, (long long)r.first_seq, (long long)r.last_seq,
			       r.head, (long long)r.head_behind, (long long)r.bad_seq);
			cli_print_json_string(stdout, r.problem);
			printf("}\n");
		} else if (r.ok) {
			printf("audit log intact: %lld records (%lld..%lld), head %lld %s\n", (long long)r.records,
			       (long long)r.first_seq, (long long)r.last_seq, (long long)r.last_seq, r.head);
			if (r.head_behind)
				printf("note: audit.head was %lld record(s) behind (an interrupted append); the next append "
				       "updates it\n", (long long)r.head_behind);
		}
		if (st == CAIRN_ECORRUPT)
			fprintf(stderr, "%s: audit: TAMPERING DETECTED: %s\n", cli_prog, r.problem);
		cairn_kb_close(kb);
		return st == CAIRN_OK ? 0 : 1;
	}
	if (!strcmp(sub, "show")) {
		long long after = 0, limit = 0;
		bool json = false;
		for (int i = 1; i < argc; i++) {
			if (!strcmp(argv[i], "--after"))
				after = cli_parse_long(argv[i], cli_need(argc, argv, &i), 0, 0x7fffffffffffffffL);
			else if (!strcmp(argv[i], "--limit"))
				limit = cli_parse_long(argv[i], cli_need(argc, argv, &i), 1, 0x7fffffffffffffffL);
			else if (!strcmp(argv[i], "--json"))
				json = true;
			else
				cli_die_usage("audit show: unknown argument %s", argv[i]);
		}
		cairn_kb *kb = cli_open_kb(kbdir, false, true);
		if (cairn_audit_read(kb, after, limit, print_record, &json) != CAIRN_OK)
			return fail(kb, "audit");
		cairn_kb_close(kb);
		return 0;
	}
	cli_die_usage("audit: unknown subcommand \"%s\" (enable, disable, verify, show, head)", sub);
}

int cli_cmd_show(const char *kbdir, int argc, char **argv)
{
	const char *doc_id = NULL, *as = NULL;
	bool json = false, text = false;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--as"))
			as = cli_need(argc, argv, &i);
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--text"))
			text = true;
		else if (argv[i][0] == '-')
			cli_die_usage("show: unknown option %s", argv[i]);
		else if (doc_id)
			cli_die_usage("show takes one DOC_ID");
		else
			doc_id = argv[i];
	}
	if (!doc_id)
		cli_die_usage("show needs a DOC_ID");
	cairn_kb *kb = cli_open_kb(kbdir, false, true);
	const char *const *groups = NULL;
	size_t n_groups = 0;
	cairn_principal *who = as ? cli_as_principal(kb, as, &groups, &n_groups) : NULL;
	cairn_document *d = NULL;
	if (cairn_kb_get_document(kb, doc_id, groups, n_groups, as, &d) != CAIRN_OK) {
		cairn_principal_free(who);
		return fail(kb, "show");
	}
	if (json) {
		printf("{\"doc_id\":");
		cli_print_json_string(stdout, d->doc_id);
		printf(",\"title\":");
		cli_print_json_string(stdout, d->title);
		printf(",\"source\":");
		cli_print_json_string(stdout, d->source);
		printf(",\"format\":");
		cli_print_json_string(stdout, d->format);
		printf(",\"mtime\":%lld,\"size\":%lld,\"ingested_at\":%lld,\"groups\":[", (long long)d->mtime,
		       (long long)d->size, (long long)d->ingested_at);
		for (size_t i = 0; i < d->n_groups; i++) {
			if (i)
				putchar(',');
			cli_print_json_string(stdout, d->groups[i]);
		}
		printf("],\"tags\":[");
		for (size_t i = 0; i < d->n_tags; i++) {
			if (i)
				putchar(',');
			cli_print_json_string(stdout, d->tags[i]);
		}
		printf("],\"chunks\":[");
		for (size_t i = 0; i < d->n_chunks; i++) {
			const cairn_doc_chunk *c = &d->chunks[i];
			printf("%s{\"chunk_id\":%lld,\"heading\":", i ? "," : "", (long long)c->chunk_id);
			cli_print_json_string(stdout, c->heading);
			printf(",\"start\":%lld,\"end\":%lld,\"text\":", (long long)c->byte_start, (long long)c->byte_end);
			cli_print_json_string(stdout, c->text);
			printf("}");
		}
		printf("]}\n");
	} else if (text) {
		for (size_t i = 0; i < d->n_chunks; i++)
			printf("%s\n\n", d->chunks[i].text);
	} else {
		printf("%s\n  title: %s\n  source: %s\n  format: %s\n  groups:", d->doc_id, d->title, d->source, d->format);
		for (size_t i = 0; i < d->n_groups; i++)
			printf(" %s", d->groups[i]);
		printf("%s\n  tags:", d->n_groups ? "" : " (none: visible to all unless the ACL mode is closed)");
		for (size_t i = 0; i < d->n_tags; i++)
			printf(" %s", d->tags[i]);
		printf("\n  chunks: %zu\n", d->n_chunks);
		for (size_t i = 0; i < d->n_chunks; i++)
			printf("  [%lld] bytes %lld-%lld  %s\n", (long long)d->chunks[i].chunk_id,
			       (long long)d->chunks[i].byte_start, (long long)d->chunks[i].byte_end, d->chunks[i].heading);
	}
	cairn_document_free(d);
	cairn_principal_free(who);
	cairn_kb_close(kb);
	return 0;
}
