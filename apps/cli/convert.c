/* convert.c — `cairn convert`: a llama2.c checkpoint (or any model file cairn reads) and its
 * tokenizer written as one GGUF file (cairn_model_convert). */
#include <stdio.h>
#include <string.h>

#include "cairn.h"
#include "commands.h"

int cli_cmd_convert(int argc, char **argv)
{
	const char *in = NULL, *tok = NULL, *out = NULL, *type = "f32";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--llama2c") || !strcmp(a, "--model"))
			in = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--tokenizer"))
			tok = cli_need(argc, argv, &i);
		else if (!strcmp(a, "-o") || !strcmp(a, "--output"))
			out = cli_need(argc, argv, &i);
		else if (!strcmp(a, "--type"))
			type = cli_need(argc, argv, &i);
		else
			cli_die_usage("convert: unknown option \"%s\"", a);
	}
	if (!in || !out)
		cli_die_usage("convert needs --llama2c MODEL.bin and -o OUT.gguf");
	if (strcmp(type, "f32") && strcmp(type, "f16") && strcmp(type, "q8_0"))
		cli_die_usage("convert: --type must be f32, f16 or q8_0, not \"%s\"", type);
	char err[1024];
	if (cairn_model_convert(in, tok, out, type, err, sizeof err) != CAIRN_OK) {
		fprintf(stderr, "%s: %s\n", cli_prog, err);
		return 1;
	}
	fprintf(stderr, "%s: wrote %s\n", cli_prog, out);
	return 0;
}
