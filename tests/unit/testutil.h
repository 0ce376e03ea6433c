/* Helpers shared by the unit tests (linked into every test binary by the Makefile). */
#ifndef CAIRN_TESTUTIL_H
#define CAIRN_TESTUTIL_H

#include <stddef.h>

/* Creates a fresh directory /tmp/cairn-<tag>-XXXXXX into buf; 0 on success. */
int cn_test_mkdtemp(char *buf, size_t size, const char *tag);
/* Removes a directory tree (no shell); 0 on success. */
int cn_test_rmtree(const char *dir);

#endif
