/* Status names, the sticky error record, and the process-wide log callback. */
#include "base.h"

#include <string.h>

const char *cairn_version(void) { return CAIRN_VERSION_STRING; }

const char *cairn_status_name(cairn_status status)
{
	switch (status) {
	case CAIRN_OK: return "ok";
	case CAIRN_EINVAL: return "invalid argument";
	case CAIRN_ENOMEM: return "out of memory";
	case CAIRN_EIO: return "I/O error";
	case CAIRN_ECORRUPT: return "corrupt data";
	case CAIRN_ENOTFOUND: return "not found";
	case CAIRN_EUNSUPPORTED: return "unsupported";
	case CAIRN_EBUSY: return "busy";
	case CAIRN_EFORMAT: return "bad format";
	case CAIRN_ETOOBIG: return "too big";
	case CAIRN_EEMPTY: return "empty";
	case CAIRN_EINTERRUPTED: return "interrupted";
	case CAIRN_EINTERNAL: return "internal error";
	case CAIRN_EPERM: return "permission denied";
	}
	return "unknown status";
}

void cn_err_clear(cn_err *err)
{
	if (!err)
		return;
	err->code = CAIRN_OK;
	err->msg[0] = '\0';
}

cairn_status cn_err_setv(cn_err *err, cairn_status code, const char *fmt, va_list ap)
{
	if (!err || err->code != CAIRN_OK)
		return code;
	err->code = code;
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	return code;
}

cairn_status cn_err_set(cn_err *err, cairn_status code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cn_err_setv(err, code, fmt, ap);
	va_end(ap);
	return code;
}

void cn_err_prefix(cn_err *err, const char *fmt, ...)
{
	if (!err || err->code == CAIRN_OK)
		return;
	char prefix[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	/* Build into a larger buffer, then cut to fit: a long context must not lose the cause. */
	char tmp[CN_ERRMSG_MAX + sizeof prefix];
	int n = snprintf(tmp, sizeof tmp, "%s%s", prefix, err->msg);
	(void)n;
	memcpy(err->msg, tmp, CN_ERRMSG_MAX - 1);
	err->msg[CN_ERRMSG_MAX - 1] = '\0';
}

static cairn_log_fn log_fn;
static void *log_user;

void cairn_set_log(cairn_log_fn fn, void *user_data)
{
	log_fn = fn;
	log_user = user_data;
}

void cn_log(cairn_log_level level, const char *fmt, ...)
{
	if (!log_fn)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_fn(level, msg, log_user);
}
