/*
 * fuzz_markdown — the markdown reader and the chunker on arbitrary bytes; the checks are in
 * fuzz_doc.h.
 */
#include "fuzz_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	fuzz_doc(CN_FMT_MARKDOWN, NULL, data, size);
	return 0;
}
