/*
 * fuzz_text — the plain-text reader and the code reader (one rule for every language) with
 * the chunker on arbitrary bytes; the checks are in fuzz_doc.h. The first line of the input
 * also goes through cn_format_from_path as a file name.
 */
#include "fuzz_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char name[256];
	size_t n = 0;
	while (n < size && n < sizeof name - 1 && data[n] != '\n' && data[n] != 0) {
		name[n] = (char)data[n];
		n++;
	}
	name[n] = 0;
	const char *lang = NULL;
	cn_format f = cn_format_from_path(name, &lang);
	FUZZ_CHECK(f != CN_FMT_CODE || lang != NULL, "CODE without a language for \"%s\"", name);
	(void)cn_format_name(f);
	fuzz_doc(CN_FMT_TEXT, NULL, data, size);
	fuzz_doc(CN_FMT_CODE, "c", data, size);
	return 0;
}
