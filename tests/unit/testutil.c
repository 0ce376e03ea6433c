/* Temporary directories for tests, created and removed without a shell. */
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int cn_test_mkdtemp(char *buf, size_t size, const char *tag)
{
	if (snprintf(buf, size, "/tmp/cairn-%s-XXXXXX", tag) >= (int)size)
		return -1;
	return mkdtemp(buf) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int cn_test_rmtree(const char *dir)
{
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
