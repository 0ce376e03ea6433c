/* File helpers. cn_file_write_atomic is the one way the knowledge base replaces a file:
 * readers see the old content or the new, never a torn write, even across power loss
 * (the data is fsynced before the rename, the directory after it). */

#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Opens path read-only and stats it; on failure nothing stays open and err names the file. */
static cairn_status open_stat(const char *path, int *fd, struct stat *st, cn_err *err)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return cn_err_set(err, errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, "%s: cannot open: %s", path,
		                  strerror(errno));
	if (fstat(*fd, st) != 0) {
		int e = errno;
		close(*fd);
		*fd = -1;
		return cn_err_set(err, CAIRN_EIO, "%s: cannot stat: %s", path, strerror(e));
	}
	return CAIRN_OK;
}

cairn_status cn_file_read(const char *path, size_t max_bytes, char **data, size_t *len, cn_err *err)
{
	*data = NULL;
	*len = 0;
	int fd;
	struct stat st;
	cairn_status ost = open_stat(path, &fd, &st, err);
	if (ost)
		return ost;
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return cn_err_set(err, CAIRN_EINVAL, "%s: is a directory", path);
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_bytes) {
		close(fd);
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: file is %lld bytes, over the limit of %zu", path,
		                  (long long)st.st_size, max_bytes);
	}
	size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
	char *buf = cn_malloc(cap);
	if (!buf) {
		close(fd);
		return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory reading file", path);
	}
	size_t n = 0;
	for (;;) {
		if (n + 1 >= cap) {
			if (cap > max_bytes) {
				cn_free(buf);
				close(fd);
				return cn_err_set(err, CAIRN_ETOOBIG, "%s: file is over the limit of %zu bytes", path,
				                  max_bytes);
			}
			char *nb = cn_realloc(buf, cap * 2);
			if (!nb) {
				cn_free(buf);
				close(fd);
				return cn_err_set(err, CAIRN_ENOMEM, "%s: out of memory reading file", path);
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			cn_free(buf);
			close(fd);
			return cn_err_set(err, CAIRN_EIO, "%s: read failed: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > max_bytes) {
		cn_free(buf);
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: file is over the limit of %zu bytes", path, max_bytes);
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return CAIRN_OK;
}

static cairn_status write_all(int fd, const void *data, size_t len, const char *path, cn_err *err)
{
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return cn_err_set(err, CAIRN_EIO, "%s: write failed: %s", path, strerror(errno));
		}
		p += w;
		len -= (size_t)w;
	}
	return CAIRN_OK;
}

cairn_status cn_fsync_dir(const char *dir, cn_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cn_err_set(err, CAIRN_EIO, "%s: cannot open directory: %s", dir, strerror(errno));
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	if (rc != 0 && e != EINVAL) /* some filesystems refuse fsync on directories */
		return cn_err_set(err, CAIRN_EIO, "%s: fsync failed: %s", dir, strerror(e));
	return CAIRN_OK;
}

static void dir_of(const char *path, char *out, size_t outsz)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(out, outsz, ".");
	else if (slash == path)
		snprintf(out, outsz, "/");
	else
		snprintf(out, outsz, "%.*s", (int)(slash - path), path);
}

cairn_status cn_file_write_atomic(const char *path, const void *data, size_t len, cn_err *err)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return cn_err_set(err, CAIRN_EINVAL, "%s: path too long", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return cn_err_set(err, CAIRN_EIO, "%s: cannot create: %s", tmp, strerror(errno));
	cairn_status st = write_all(fd, data, len, tmp, err);
	if (!st && fsync(fd) != 0)
		st = cn_err_set(err, CAIRN_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
	if (close(fd) != 0 && !st)
		st = cn_err_set(err, CAIRN_EIO, "%s: close failed: %s", tmp, strerror(errno));
	if (!st && rename(tmp, path) != 0)
		st = cn_err_set(err, CAIRN_EIO, "%s: rename failed: %s", path, strerror(errno));
	if (st) {
		unlink(tmp);
		return st;
	}
	char dir[PATH_MAX];
	dir_of(path, dir, sizeof dir);
	return cn_fsync_dir(dir, err);
}

cairn_status cn_mkdir_p(const char *path, cn_err *err)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof tmp)
		return cn_err_set(err, CAIRN_EINVAL, "%s: bad directory path", path);
	memcpy(tmp, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] == '/' || tmp[i] == '\0') {
			char c = tmp[i];
			tmp[i] = '\0';
			if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
				return cn_err_set(err, CAIRN_EIO, "%s: cannot create directory: %s", tmp,
				                  strerror(errno));
			tmp[i] = c;
		}
	}
	if (!cn_is_dir(path))
		return cn_err_set(err, CAIRN_EIO, "%s: exists and is not a directory", path);
	return CAIRN_OK;
}

bool cn_path_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

bool cn_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

cairn_status cn_map_open(const char *path, cn_map *m, cn_err *err)
{
	m->data = NULL;
	m->len = m->cap = 0;
	int fd;
	struct stat st;
	cairn_status ost = open_stat(path, &fd, &st, err);
	if (ost)
		return ost;
	if (st.st_size == 0) {
		close(fd);
		return CAIRN_OK;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return cn_err_set(err, CAIRN_EIO, "%s: mmap failed: %s", path, strerror(e));
	m->data = p;
	m->len = (size_t)st.st_size;
	return CAIRN_OK;
}

cairn_status cn_map_load(const char *path, cn_map *m, cn_err *err)
{
	m->data = NULL;
	m->len = m->cap = 0;
	int fd;
	struct stat st;
	cairn_status ost = open_stat(path, &fd, &st, err);
	if (ost)
		return ost;
	if (st.st_size <= 0) {
		close(fd);
		return CAIRN_OK;
	}
	const size_t huge = (size_t)2 << 20, len = (size_t)st.st_size;
	if (len > SIZE_MAX - huge) {
		close(fd);
		return cn_err_set(err, CAIRN_ETOOBIG, "%s: file too large", path);
	}
	size_t cap = (len + huge - 1) & ~(huge - 1);
	void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(fd);
		return cn_err_set(err, CAIRN_ENOMEM, "%s: cannot allocate %zu bytes: %s", path, cap, strerror(e));
	}
	/* Only advice: where transparent huge pages are off this is ordinary memory. */
	(void)madvise(p, cap, MADV_HUGEPAGE);
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, (char *)p + got, len - got > ((size_t)1 << 30) ? (size_t)1 << 30 : len - got,
		                  (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : 0;
			close(fd);
			munmap(p, cap);
			return cn_err_set(err, CAIRN_EIO, "%s: read failed at byte %zu: %s", path, got,
			                  e ? strerror(e) : "the file shrank while being read");
		}
		got += (size_t)r;
	}
	close(fd); /* the page cache keeps its copy: the next open of the same model reads from it */
	/* Read-only from here: a stray write faults instead of changing the model. */
	if (mprotect(p, cap, PROT_READ) != 0) {
		int e = errno;
		munmap(p, cap);
		return cn_err_set(err, CAIRN_EIO, "%s: mprotect failed: %s", path, strerror(e));
	}
	m->data = p;
	m->len = len;
	m->cap = cap;
	return CAIRN_OK;
}

void cn_map_close(cn_map *m)
{
	if (m->data)
		munmap((void *)m->data, m->cap ? m->cap : m->len);
	m->data = NULL;
	m->len = m->cap = 0;
}

uint64_t cn_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t cn_wall_time_s(void) { return (int64_t)time(NULL); }

bool cn_glob_match(const char *pattern, const char *s) { return fnmatch(pattern, s, 0) == 0; }
