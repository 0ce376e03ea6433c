/* Helpers shared by the unit tests (linked into every test binary by the Makefile). */
#ifndef CAIRN_TESTUTIL_H
#define CAIRN_TESTUTIL_H

#include <math.h>
#include <stddef.h>

/* Creates a fresh directory /tmp/cairn-<tag>-XXXXXX into buf; 0 on success. */
int cn_test_mkdtemp(char *buf, size_t size, const char *tag);
/* Removes a directory tree (no shell); 0 on success. */
int cn_test_rmtree(const char *dir);

/* Runs argv[0] (a path, no shell) with argv; its exit status, or -1 when it could not run
 * or was killed. */
int cn_test_run(char *const argv[]);

/* The read-only data directory: $CAIRN_SHARED, else ../shared; NULL when neither exists. */
const char *cn_test_shared_dir(void);

/* One case of llama.cpp's tokenizer test vectors (models/ggml-vocab-NAME.gguf.inp/.out):
 * the .inp holds each text followed by "\n__ggml_vocab_test__\n", the .out one line of
 * space-separated ids per text. */
typedef struct cn_test_vocab_case {
	char *text;
	size_t len;
	int *ids;
	size_t n_ids;
} cn_test_vocab_case;

/* Returns the number of cases (≥ 1), or -1 when a file is missing or the two disagree in
 * count. Free with cn_test_vocab_cases_free. */
int cn_test_vocab_cases(const char *inp_path, const char *out_path, cn_test_vocab_case **cases);
void cn_test_vocab_cases_free(cn_test_vocab_case *cases, int n);

/* cmocka's assert_float_equal works in float; measures and statistics need double precision.
 * Use inside a cmocka test (fail_msg). */
#define assert_double_equal(a, b, eps)                                                       \
	do {                                                                                     \
		double a_ = (a), b_ = (b);                                                           \
		if (!(fabs(a_ - b_) <= (eps)))                                                       \
			fail_msg("%s = %.15g, expected %.15g", #a, a_, b_);                              \
	} while (0)

#endif
