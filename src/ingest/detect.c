/*
 * Format detection and the content check that runs before any reader.
 *
 * Detection is by file name only (cheap, predictable, and what users expect from a directory
 * walk); the content check then refuses what is not text. Unrecognised extensions are read
 * as text on purpose: an organisation's notes come in .log, .csv, .tex and a hundred others,
 * and the binary check catches the rest by content.
 */
#include "ingest/ingest_int.h"

#include <string.h>
#include <strings.h>

const char *cn_format_name(cn_format f)
{
	switch (f) {
	case CN_FMT_TEXT: return "text";
	case CN_FMT_MARKDOWN: return "markdown";
	case CN_FMT_HTML: return "html";
	case CN_FMT_CODE: return "code";
	case CN_FMT_JSONL: return "jsonl";
	default: return "unknown";
	}
}

typedef struct ext_map {
	const char *ext;
	cn_format fmt;
	const char *lang;
} ext_map;

static const ext_map exts[] = {
	{"md", CN_FMT_MARKDOWN, NULL}, {"markdown", CN_FMT_MARKDOWN, NULL},
	{"mdx", CN_FMT_MARKDOWN, NULL}, {"mkd", CN_FMT_MARKDOWN, NULL},
	{"html", CN_FMT_HTML, NULL}, {"htm", CN_FMT_HTML, NULL}, {"xhtml", CN_FMT_HTML, NULL},
	{"txt", CN_FMT_TEXT, NULL}, {"text", CN_FMT_TEXT, NULL}, {"rst", CN_FMT_TEXT, NULL},
	{"adoc", CN_FMT_TEXT, NULL}, {"asciidoc", CN_FMT_TEXT, NULL}, {"org", CN_FMT_TEXT, NULL},
	{"log", CN_FMT_TEXT, NULL}, {"csv", CN_FMT_TEXT, NULL}, {"tsv", CN_FMT_TEXT, NULL},
	{"tex", CN_FMT_TEXT, NULL},
	{"jsonl", CN_FMT_JSONL, NULL}, {"ndjson", CN_FMT_JSONL, NULL},
	{"c", CN_FMT_CODE, "c"}, {"h", CN_FMT_CODE, "c"},
	{"cc", CN_FMT_CODE, "cpp"}, {"cpp", CN_FMT_CODE, "cpp"}, {"cxx", CN_FMT_CODE, "cpp"},
	{"hpp", CN_FMT_CODE, "cpp"}, {"hh", CN_FMT_CODE, "cpp"}, {"hxx", CN_FMT_CODE, "cpp"},
	{"py", CN_FMT_CODE, "python"}, {"pyi", CN_FMT_CODE, "python"},
	{"js", CN_FMT_CODE, "javascript"}, {"mjs", CN_FMT_CODE, "javascript"},
	{"cjs", CN_FMT_CODE, "javascript"}, {"jsx", CN_FMT_CODE, "javascript"},
	{"ts", CN_FMT_CODE, "typescript"}, {"tsx", CN_FMT_CODE, "typescript"},
	{"go", CN_FMT_CODE, "go"}, {"rs", CN_FMT_CODE, "rust"}, {"java", CN_FMT_CODE, "java"},
	{"kt", CN_FMT_CODE, "kotlin"}, {"kts", CN_FMT_CODE, "kotlin"}, {"rb", CN_FMT_CODE, "ruby"},
	{"php", CN_FMT_CODE, "php"}, {"cs", CN_FMT_CODE, "csharp"}, {"swift", CN_FMT_CODE, "swift"},
	{"scala", CN_FMT_CODE, "scala"}, {"sh", CN_FMT_CODE, "shell"}, {"bash", CN_FMT_CODE, "shell"},
	{"zsh", CN_FMT_CODE, "shell"}, {"fish", CN_FMT_CODE, "shell"}, {"sql", CN_FMT_CODE, "sql"},
	{"lua", CN_FMT_CODE, "lua"}, {"pl", CN_FMT_CODE, "perl"}, {"pm", CN_FMT_CODE, "perl"},
	{"r", CN_FMT_CODE, "r"}, {"m", CN_FMT_CODE, "objc"}, {"mm", CN_FMT_CODE, "objc"},
	{"yaml", CN_FMT_CODE, "yaml"}, {"yml", CN_FMT_CODE, "yaml"}, {"toml", CN_FMT_CODE, "toml"},
	{"json", CN_FMT_CODE, "json"}, {"ini", CN_FMT_CODE, "ini"}, {"cfg", CN_FMT_CODE, "ini"},
	{"conf", CN_FMT_CODE, "ini"}, {"css", CN_FMT_CODE, "css"}, {"scss", CN_FMT_CODE, "scss"},
	{"sass", CN_FMT_CODE, "scss"}, {"less", CN_FMT_CODE, "less"}, {"proto", CN_FMT_CODE, "protobuf"},
	{"cmake", CN_FMT_CODE, "cmake"}, {"mk", CN_FMT_CODE, "make"}, {"xml", CN_FMT_CODE, "xml"},
	{"vue", CN_FMT_CODE, "vue"}, {"svelte", CN_FMT_CODE, "svelte"}, {"hs", CN_FMT_CODE, "haskell"},
	{"ml", CN_FMT_CODE, "ocaml"}, {"ex", CN_FMT_CODE, "elixir"}, {"exs", CN_FMT_CODE, "elixir"},
	{"erl", CN_FMT_CODE, "erlang"}, {"clj", CN_FMT_CODE, "clojure"}, {"dart", CN_FMT_CODE, "dart"},
	{"jl", CN_FMT_CODE, "julia"}, {"zig", CN_FMT_CODE, "zig"}, {"nim", CN_FMT_CODE, "nim"},
	{"f90", CN_FMT_CODE, "fortran"}, {"ps1", CN_FMT_CODE, "powershell"},
	{"bat", CN_FMT_CODE, "batch"}, {"cmd", CN_FMT_CODE, "batch"}, {"gradle", CN_FMT_CODE, "groovy"},
	{"groovy", CN_FMT_CODE, "groovy"}, {"tf", CN_FMT_CODE, "terraform"}, {"hcl", CN_FMT_CODE, "hcl"},
	{"graphql", CN_FMT_CODE, "graphql"}, {"vim", CN_FMT_CODE, "vim"}, {"el", CN_FMT_CODE, "elisp"},
	{"lisp", CN_FMT_CODE, "lisp"}, {"scm", CN_FMT_CODE, "scheme"}, {"asm", CN_FMT_CODE, "asm"},
	{"s", CN_FMT_CODE, "asm"},
};

static const char *const binary_exts[] = {
	"png", "jpg", "jpeg", "gif", "bmp", "ico", "tif", "tiff", "webp", "heic", "avif", "psd",
	"svgz", "pdf", "zip", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "tar", "lz4", "exe",
	"dll", "so", "dylib", "o", "a", "obj", "lib", "class", "jar", "war", "ear", "woff", "woff2",
	"ttf", "otf", "eot", "mp3", "mp4", "wav", "ogg", "flac", "avi", "mov", "mkv", "webm", "m4a",
	"db", "sqlite", "sqlite3", "bin", "pyc", "pyo", "whl", "egg", "iso", "dmg", "img", "doc",
	"docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp", "wasm", "gguf", "safetensors",
	"pt", "pth", "onnx", "npy", "npz", "parquet", "pkl", "pickle", "deb", "rpm", "apk", "dat",
};

static const ext_map names[] = {
	{"makefile", CN_FMT_CODE, "make"},     {"gnumakefile", CN_FMT_CODE, "make"},
	{"dockerfile", CN_FMT_CODE, "dockerfile"}, {"cmakelists.txt", CN_FMT_CODE, "cmake"},
	{"rakefile", CN_FMT_CODE, "ruby"},     {"gemfile", CN_FMT_CODE, "ruby"},
	{"jenkinsfile", CN_FMT_CODE, "groovy"}, {"vagrantfile", CN_FMT_CODE, "ruby"},
	{"containerfile", CN_FMT_CODE, "dockerfile"},
};

cn_format cn_format_from_path(const char *path, const char **lang)
{
	if (lang)
		*lang = NULL;
	if (!path || !*path)
		return CN_FMT_TEXT;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < CN_ARRAY_LEN(names); i++)
		if (!strcasecmp(base, names[i].ext)) {
			if (lang)
				*lang = names[i].lang;
			return names[i].fmt;
		}
	if (!strncasecmp(base, "dockerfile.", 11) || !strncasecmp(base, "makefile.", 9)) {
		if (lang)
			*lang = base[0] == 'd' || base[0] == 'D' ? "dockerfile" : "make";
		return CN_FMT_CODE;
	}
	const char *dot = strrchr(base, '.');
	if (!dot || dot == base || !dot[1])
		return CN_FMT_TEXT; /* no extension (or a dotfile) */
	const char *ext = dot + 1;
	for (size_t i = 0; i < CN_ARRAY_LEN(exts); i++)
		if (!strcasecmp(ext, exts[i].ext)) {
			if (lang)
				*lang = exts[i].lang;
			return exts[i].fmt;
		}
	for (size_t i = 0; i < CN_ARRAY_LEN(binary_exts); i++)
		if (!strcasecmp(ext, binary_exts[i]))
			return CN_FMT_UNKNOWN;
	return CN_FMT_TEXT;
}

cairn_status cn_check_text(const char *path, const char *data, size_t len, cn_err *err)
{
	if (!path)
		path = "(input)";
	if (!data || !len)
		return cn_err_set(err, CAIRN_EEMPTY, "%s: empty file", path);
	size_t bom = cn_ing_bom(data, len);
	/* control bytes other than tab/newline/CR/FF/VT/ESC in the first 8 KiB */
	size_t head = CN_MIN(len, (size_t)8192), ctl = 0;
	for (size_t i = bom; i < head; i++) {
		unsigned char c = (unsigned char)data[i];
		if (c == 0)
			return cn_err_set(err, CAIRN_EFORMAT, "%s: binary file", path);
		if ((c < 0x20 && !cn_ing_isspace(c) && c != 0x1B) || c == 0x7F)
			ctl++;
	}
	if (head > bom && ctl * 10 > head - bom)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: binary file", path);
	size_t bad = 0;
	bool nul = false;
	bool ok = cn_ing_utf8_valid(data, len, &bad, &nul);
	if (nul)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: binary file", path);
	if (!ok)
		return cn_err_set(err, CAIRN_EFORMAT, "%s: invalid UTF-8 at byte %zu", path, bad);
	for (size_t i = bom; i < len; i++)
		if (!cn_ing_isspace((unsigned char)data[i]))
			return CAIRN_OK;
	return cn_err_set(err, CAIRN_EEMPTY, "%s: empty file (whitespace only)", path);
}
