/*
 * fuzz_tools — the tool-use parsers (src/tools): the input is a schema text, a NUL byte and an
 * instance text, validated with cairn_schema_validate, and the whole input is also parsed as
 * a tools configuration file. Checks: no crash, leak or UB; a refused schema or configuration
 * has a message; a verdict is deterministic and comes with errors exactly when invalid; an
 * accepted configuration names at least one tool, each with a schema that passes the check.
 */
#include "fuzz.h"

#include <string.h>

#include "tools/tools.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	char *buf = malloc(size + 2);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	const char *schema = buf;
	const char *nul = memchr(buf, 0, size);
	const char *instance = nul ? nul + 1 : "null";
	char *errs = NULL, eb[1024] = "";
	cairn_status st = cairn_schema_validate(schema, instance, &errs, eb, sizeof eb);
	if (st == CAIRN_EINVAL)
		FUZZ_CHECK(eb[0], "a refused schema or instance without a message");
	FUZZ_CHECK((st == CAIRN_EFORMAT) == (errs != NULL), "errors without an invalid verdict (or the reverse)");
	if (st == CAIRN_EFORMAT)
		FUZZ_CHECK(strlen(errs) > 2, "an invalid verdict with no error listed");
	char *errs2 = NULL;
	cairn_status st2 = cairn_schema_validate(schema, instance, &errs2, NULL, 0);
	FUZZ_CHECK(st == st2, "verdicts differ between runs");
	cairn_free(errs);
	cairn_free(errs2);

	cn_tools_config c;
	cn_err err;
	cn_err_clear(&err);
	if (cn_tools_config_parse((const char *)data, size, "fuzz.json", &c, &err) == CAIRN_OK) {
		FUZZ_CHECK(c.n >= 1, "a configuration without tools accepted");
		for (size_t i = 0; i < c.n; i++) {
			cn_err e2;
			cn_err_clear(&e2);
			FUZZ_CHECK(cn_schema_check(c.tools[i].schema, "t", &e2) == CAIRN_OK, "an accepted schema fails the check");
		}
		cn_tools_config_free(&c);
	} else {
		FUZZ_CHECK(err.msg[0], "a refused configuration without a message");
	}
	free(buf);
	return 0;
}
