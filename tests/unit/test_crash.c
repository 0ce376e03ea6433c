/* Crash safety: a child process ingests documents, committing after each small batch and
 * reporting each committed batch on a pipe; the parent SIGKILLs it at a random moment
 * (during inserts, segment writes, commits or merges), reopens the knowledge base and
 * checks that it is consistent (cairn_kb_check) and holds exactly the committed documents:
 * every batch acknowledged before the kill, plus possibly the one whose commit had
 * finished but whose acknowledgement had not been written yet — never a partial batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cairn.h"
#include "testutil.h"

#define BATCH 7
#define MAX_BATCHES 400

static void child(const char *dir, int fd, unsigned seed)
{
	cairn_kb *kb = NULL;
	char err[512];
	cairn_kb_params kp = cairn_kb_default_params();
	if (cairn_kb_open(dir, &kp, &kb, err, sizeof err) != CAIRN_OK)
		_exit(10);
	cairn_ingest_params ip = cairn_ingest_default_params();
	srand(seed);
	char id[32], text[512];
	/* Resume after what an earlier (killed) child committed, so runs accumulate segments and
	 * the tiered merges get killed too. */
	cairn_kb_stats s;
	cairn_kb_stats_get(kb, &s);
	int first = (int)(s.documents / BATCH);
	for (int b = first; b < first + MAX_BATCHES; b++) {
		for (int i = 0; i < BATCH; i++) {
			int n = b * BATCH + i;
			snprintf(id, sizeof id, "doc-%05d", n);
			int len = snprintf(text, sizeof text, "marker%d batch%d shared words for every document", n, b);
			for (int w = 0; w < rand() % 40; w++)
				len += snprintf(text + len, sizeof text - (size_t)len, " filler%d", rand() % 300);
			cairn_record r = {.doc_id = id, .text = text, .text_len = (size_t)len};
			if (cairn_kb_add_record(kb, &r, &ip) != CAIRN_OK)
				_exit(11);
		}
		/* Replace a document of the previous batch in the same commit, so commits also
		 * carry tombstones; it keeps its marker, so it must still be found exactly once. */
		if (b > 0) {
			int n = (b - 1) * BATCH;
			snprintf(id, sizeof id, "doc-%05d", n);
			int len = snprintf(text, sizeof text, "marker%d batch%d replaced in batch %d", n, b - 1, b);
			cairn_record r = {.doc_id = id, .text = text, .text_len = (size_t)len};
			if (cairn_kb_add_record(kb, &r, &ip) != CAIRN_OK)
				_exit(11);
		}
		if (cairn_kb_commit(kb) != CAIRN_OK)
			_exit(12);
		int ack = b;
		if (write(fd, &ack, sizeof ack) != sizeof ack)
			_exit(13);
	}
	cairn_kb_close(kb);
	_exit(0);
}

static void test_sigkill_at_random_moments(void **state)
{
	(void)state;
	char dir[64] = "/tmp/cairn-crash-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char kbdir[128];
	snprintf(kbdir, sizeof kbdir, "%s/kb", dir);
	unsigned seed = (unsigned)time(NULL);
	const char *env = getenv("CAIRN_CRASH_SEED");
	if (env)
		seed = (unsigned)strtoul(env, NULL, 10);
	print_message("crash test seed %u (set CAIRN_CRASH_SEED to repeat)\n", seed);
	srand(seed);
	int rounds = 12, killed = 0;
	int64_t prev_batches = 0;
	for (int round = 0; round < rounds; round++) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			child(kbdir, p[1], seed + (unsigned)round);
		}
		close(p[1]);
		/* Kill between 5 ms and 400 ms in: early rounds hit creation, later ones merges. */
		useconds_t delay = 5000 + (useconds_t)(rand() % 395000);
		usleep(delay);
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		if (WIFSIGNALED(status))
			killed++;
		else
			assert_int_equal(WEXITSTATUS(status), 0); /* finished before the kill: fine */
		int last = -1, ack;
		while (read(p[0], &ack, sizeof ack) == sizeof ack)
			last = ack;
		close(p[0]);

		cairn_kb *kb = NULL;
		char err[512];
		cairn_kb_params kp = cairn_kb_default_params();
		if (cairn_kb_open(kbdir, &kp, &kb, err, sizeof err) != CAIRN_OK) {
			/* Killed before the catalog was first created: nothing was committed. */
			assert_int_equal(last, -1);
			continue;
		}
		if (cairn_kb_check(kb) != CAIRN_OK)
			fail_msg("round %d: check failed: %s", round, cairn_kb_errmsg(kb));
		cairn_kb_stats s;
		assert_int_equal(cairn_kb_stats_get(kb, &s), CAIRN_OK);
		assert_int_equal(s.documents % BATCH, 0); /* never a partial batch */
		int64_t batches = s.documents / BATCH;
		/* Acknowledged batches are all there (and what earlier rounds committed); at most one
		 * more, whose commit finished but whose acknowledgement was not yet written. */
		int64_t floor = last >= 0 ? last + 1 : prev_batches;
		if (batches < floor || batches > floor + 1)
			fail_msg("round %d: %lld batches committed, acknowledged %lld", round, (long long)batches,
			         (long long)floor);
		prev_batches = batches;
		/* every committed document is searchable by its unique marker */
		for (int64_t n = 0; n < s.documents; n += 1 + rand() % 5) {
			char q[32];
			snprintf(q, sizeof q, "marker%lld", (long long)n);
			cairn_search_params sp = cairn_search_default_params();
			sp.snippets = 0;
			cairn_results *r;
			assert_int_equal(cairn_search(kb, q, &sp, &r), CAIRN_OK);
			assert_int_equal(cairn_results_count(r), 1);
			cairn_results_free(r);
		}
		/* and nothing beyond the committed batches */
		char q[32];
		snprintf(q, sizeof q, "batch%lld", (long long)batches);
		cairn_search_params sp = cairn_search_default_params();
		cairn_results *r;
		assert_int_equal(cairn_search(kb, q, &sp, &r), CAIRN_OK);
		assert_int_equal(cairn_results_count(r), 0);
		cairn_results_free(r);
		cairn_kb_close(kb);
	}
	print_message("%d of %d rounds killed mid-run\n", killed, rounds);
	assert_int_equal(cn_test_rmtree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigkill_at_random_moments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
