/*
 * model_api.c — the public cairn_model_describe over the gguf reader, so programs can show
 * what a model file holds without linking against internals.
 */
#include "gguf/gguf.h"

cairn_status cairn_model_describe(const char *path, int json, char **text, char *errbuf, size_t errbuf_size)
{
	*text = NULL;
	cn_err err;
	cn_err_clear(&err);
	cn_gguf *g = NULL;
	cairn_status rc = path ? cn_gguf_open(path, &g, &err) : cn_err_set(&err, CAIRN_EINVAL, "model: no path given");
	if (rc == CAIRN_OK) {
		cn_buf b;
		cn_buf_init(&b);
		cn_gguf_describe(g, &b, json != 0);
		cn_gguf_close(g);
		if (b.failed || !b.data) {
			cn_buf_free(&b);
			rc = cn_err_set(&err, CAIRN_ENOMEM, "out of memory");
		} else {
			*text = cn_buf_take(&b);
		}
	}
	if (rc != CAIRN_OK && errbuf && errbuf_size)
		snprintf(errbuf, errbuf_size, "%s", err.msg);
	return rc;
}
