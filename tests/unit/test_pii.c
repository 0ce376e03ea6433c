/* guard PII detection: validators against published test numbers (card networks' test PANs,
 * the IBAN registry's examples, the SSA's rules and its famous invalid numbers, RFC 4291 /
 * RFC 5952 IPv6 forms), detectors on hand-written positive and negative sentences with the
 * spans located independently (strstr), context raising and lowering scores, robustness on
 * NULs and invalid UTF-8, and the evaluation on ../shared's presidio set when present. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "guard/guard.h"
#include "testutil.h"

/* ---- validators ------------------------------------------------------------------------ */

static void test_luhn_and_issuers(void **state)
{
	(void)state;
	/* network test numbers (published by the card schemes / payment processors) */
	static const struct {
		const char *pan, *issuer;
	} good[] = {{"4111111111111111", "visa"},       {"4012888888881881", "visa"},
	            {"4222222222222", "visa"},          {"5555555555554444", "mastercard"},
	            {"5105105105105100", "mastercard"}, {"2223003122003222", "mastercard"},
	            {"378282246310005", "amex"},        {"371449635398431", "amex"},
	            {"6011111111111117", "discover"},   {"6011000990139424", "discover"},
	            {"3530111333300000", "jcb"},        {"3566002020360505", "jcb"},
	            {"30569309025904", "diners"},       {"38520000023237", "diners"},
	            {"6200000000000005", "unionpay"}};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		size_t n = strlen(good[i].pan);
		assert_true(cn_luhn_ok(good[i].pan, n));
		const char *iss = cn_card_issuer(good[i].pan, n);
		assert_non_null(iss);
		assert_string_equal(iss, good[i].issuer);
	}
	assert_false(cn_luhn_ok("4111111111111112", 16));
	assert_false(cn_luhn_ok("378282246310006", 15));
	assert_true(cn_luhn_ok("4111 1111 1111 1111", 19)); /* separators skipped */
	assert_false(cn_luhn_ok("0", 1));
	assert_null(cn_card_issuer("4111111111111", 12));  /* too short */
	assert_null(cn_card_issuer("37828224631000", 14)); /* amex is 15 */
	assert_null(cn_card_issuer("9111111111111111", 16));
}

static void test_iban(void **state)
{
	(void)state;
	static const char *const good[] = {"GB82WEST12345698765432",      "GB82 WEST 1234 5698 7654 32",
	                                   "DE89370400440532013000",      "FR1420041010050500013M02606",
	                                   "NL91ABNA0417164300",          "CH9300762011623852957",
	                                   "BE68539007547034",            "NO9386011117947",
	                                   "gb82west12345698765432",      "ES9121000418450200051332",
	                                   "IT60X0542811101000000123456", "PL61109010140000071219812874"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_true(cn_iban_ok(good[i], strlen(good[i])));
	static const char *const bad[] = {"GB82WEST12345698765433", /* check digits */
	                                  "GB28WEST12345698765432", /* swapped check digits */
	                                  "DE8937040044053201300",  /* one short for DE */
	                                  "XX82WEST12345698765432", /* no such country */
	                                  "GB82WEST1234569876543!", "GB82"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(cn_iban_ok(bad[i], strlen(bad[i])));
}

static void test_ssn_rules(void **state)
{
	(void)state;
	assert_true(cn_ssn_ok("536221234"));
	assert_true(cn_ssn_ok("001010001"));
	assert_true(cn_ssn_ok("899991234"));
	assert_false(cn_ssn_ok("000123456")); /* area 000 */
	assert_false(cn_ssn_ok("666123456")); /* area 666 */
	assert_false(cn_ssn_ok("900123456")); /* 9xx: ITINs */
	assert_false(cn_ssn_ok("123004567")); /* group 00 */
	assert_false(cn_ssn_ok("123450000")); /* serial 0000 */
	assert_false(cn_ssn_ok("078051120")); /* the Woolworth wallet card */
	assert_false(cn_ssn_ok("123456789"));
	assert_false(cn_ssn_ok("219099999")); /* SSA advertisement */
	assert_false(cn_ssn_ok("12345678x"));
}

static void test_ip_forms(void **state)
{
	(void)state;
	static const char *const v6ok[] = {"2001:db8::1",
	                                   "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
	                                   "fe80::1ff:fe23:4567:890a",
	                                   "::ffff:192.0.2.128",
	                                   "2001:db8:0:0:1:0:0:1",
	                                   "2001:db8::8a2e:370:7334",
	                                   "1:2:3:4:5:6:7::"};
	for (size_t i = 0; i < sizeof v6ok / sizeof v6ok[0]; i++)
		assert_true(cn_ipv6_ok(v6ok[i], strlen(v6ok[i])));
	static const char *const v6bad[] = {"2001:db8:::1", "1:2:3:4:5:6:7:8:9", "12:30:45", "2001:db8::g1",
	                                    "1::2::3",      "::",                "1:2:3:4:5:6:7:8:", "00:1A:2B:3C:4D:5E",
	                                    "::1"};
	for (size_t i = 0; i < sizeof v6bad / sizeof v6bad[0]; i++)
		assert_false(cn_ipv6_ok(v6bad[i], strlen(v6bad[i])));
	assert_true(cn_ipv4_ok("192.168.0.1", 11));
	assert_true(cn_ipv4_ok("0.0.0.0", 7));
	assert_false(cn_ipv4_ok("256.1.1.1", 9));
	assert_false(cn_ipv4_ok("1.2.3", 5));
	assert_false(cn_ipv4_ok("1.2.3.4.5", 9));
	assert_false(cn_ipv4_ok("1..2.3", 6));
}

/* ---- detectors --------------------------------------------------------------------------- */

typedef struct found {
	cn_pii_finding *f;
	size_t n;
} found;

static found scan_at(const char *s, float min_score)
{
	found r = {0};
	cn_err err;
	cn_err_clear(&err);
	cn_pii_opts o = cn_pii_default_opts();
	o.min_score = min_score;
	assert_int_equal(cn_pii_scan(s, strlen(s), &o, &r.f, &r.n, &err), CAIRN_OK);
	/* sorted and non-overlapping, inside the text */
	for (size_t i = 0; i < r.n; i++) {
		assert_true(r.f[i].start < r.f[i].end && r.f[i].end <= strlen(s));
		assert_true(r.f[i].score >= min_score && r.f[i].score <= 1.0f);
		if (i)
			assert_true(r.f[i - 1].end <= r.f[i].start);
	}
	return r;
}

/* The finding of type t covering exactly `what` (located by strstr), or NULL. */
static const cn_pii_finding *has(const found *r, const char *s, cn_pii_type t, const char *what)
{
	const char *p = strstr(s, what);
	assert_non_null(p);
	size_t a = (size_t)(p - s), b = a + strlen(what);
	for (size_t i = 0; i < r->n; i++)
		if (r->f[i].type == t && r->f[i].start == a && r->f[i].end == b)
			return &r->f[i];
	return NULL;
}

static bool any_of(const found *r, cn_pii_type t)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->f[i].type == t)
			return true;
	return false;
}

#define EXPECT(s, t, what)                                                                 \
	do {                                                                               \
		found r_ = scan_at(s, 0.5f);                                               \
		if (!has(&r_, s, t, what))                                                 \
			fail_msg("expected %s \"%s\" in \"%s\"", cn_pii_type_name(t), what, s); \
		free(r_.f);                                                                \
	} while (0)

#define EXPECT_NONE(s, t)                                                                  \
	do {                                                                               \
		found r_ = scan_at(s, 0.5f);                                               \
		if (any_of(&r_, t))                                                        \
			fail_msg("unexpected %s in \"%s\"", cn_pii_type_name(t), s);       \
		free(r_.f);                                                                \
	} while (0)

static void test_email(void **state)
{
	(void)state;
	EXPECT("write to jane.doe+news@mail.example.co.uk today", CN_PII_EMAIL, "jane.doe+news@mail.example.co.uk");
	EXPECT("<a.b@c.io>", CN_PII_EMAIL, "a.b@c.io");
	EXPECT("End of sentence: bob@example.org.", CN_PII_EMAIL, "bob@example.org");
	EXPECT_NONE("not an address: foo@bar or @handle or a..b@x.com", CN_PII_EMAIL);
}

static void test_phone(void **state)
{
	(void)state;
	EXPECT("Call +1 (415) 555-2671 now", CN_PII_PHONE, "+1 (415) 555-2671");
	EXPECT("my number is (212) 555-0199.", CN_PII_PHONE, "(212) 555-0199");
	EXPECT("office 212.555.0199 ext 12", CN_PII_PHONE, "212.555.0199 ext 12");
	EXPECT("UK mobile +44 7700 900123", CN_PII_PHONE, "+44 7700 900123");
	EXPECT("Tel: 020 7946 0958", CN_PII_PHONE, "020 7946 0958");
	EXPECT("Telefon: +49 30 901820", CN_PII_PHONE, "+49 30 901820");
	EXPECT("phone 01 23 45 67 89", CN_PII_PHONE, "01 23 45 67 89");
	EXPECT("reach me on +91 98765 43210", CN_PII_PHONE, "+91 98765 43210");
	EXPECT("fax 0033 1 23 45 67 89", CN_PII_PHONE, "0033 1 23 45 67 89");
	/* ambiguous digit groups need context */
	EXPECT_NONE("There were 4120 3301 visitors", CN_PII_PHONE);
	EXPECT_NONE("Order number 415-555-2671 shipped", CN_PII_PHONE);
	EXPECT_NONE("on 2021-03-04 we met", CN_PII_PHONE);
	EXPECT_NONE("pages 12-34", CN_PII_PHONE);
}

static void test_ssn(void **state)
{
	(void)state;
	EXPECT("employee 536-22-1234 on file", CN_PII_SSN, "536-22-1234");
	EXPECT("SSN: 536 22 1234", CN_PII_SSN, "536 22 1234");
	EXPECT("social security number 536221234", CN_PII_SSN, "536221234");
	EXPECT_NONE("example 123-45-6789 from the docs", CN_PII_SSN);
	EXPECT_NONE("the 078-05-1120 card", CN_PII_SSN);
	EXPECT_NONE("ssn 666-12-3456", CN_PII_SSN);
	EXPECT_NONE("ssn 912-12-3456", CN_PII_SSN);
	EXPECT_NONE("ssn 536-00-1234", CN_PII_SSN);
	EXPECT_NONE("batch 536221234 shipped", CN_PII_SSN); /* bare digits without context */
}

static void test_card(void **state)
{
	(void)state;
	EXPECT("card 4111 1111 1111 1111 exp 12/29", CN_PII_CARD, "4111 1111 1111 1111");
	EXPECT("amex 3782-822463-10005.", CN_PII_CARD, "3782-822463-10005");
	EXPECT("paid with 5555555555554444", CN_PII_CARD, "5555555555554444");
	EXPECT_NONE("card 4111 1111 1111 1112", CN_PII_CARD); /* Luhn fails */
	EXPECT_NONE("card 4111-1111 1111-1111", CN_PII_CARD); /* mixed separators */
	EXPECT_NONE("id 0000000000000000", CN_PII_CARD);
}

static void test_iban_ip_mac(void **state)
{
	(void)state;
	EXPECT("IBAN: DE89 3704 0044 0532 0130 00 please", CN_PII_IBAN, "DE89 3704 0044 0532 0130 00");
	EXPECT("pay GB82WEST12345698765432 and thanks", CN_PII_IBAN, "GB82WEST12345698765432");
	EXPECT_NONE("pay GB82WEST12345698765433 now", CN_PII_IBAN);
	EXPECT("from 10.0.0.254 at noon", CN_PII_IP, "10.0.0.254");
	EXPECT("host 2001:db8::8a2e:370:7334 up", CN_PII_IP, "2001:db8::8a2e:370:7334");
	EXPECT("peer [fe80::1ff:fe23:4567:890a]", CN_PII_IP, "fe80::1ff:fe23:4567:890a");
	EXPECT_NONE("version 1.2.3.4.5 and 300.1.1.1", CN_PII_IP);
	EXPECT_NONE("at 12:30:45 and std::vector", CN_PII_IP);
	EXPECT("mac 00:1a:2b:3c:4d:5e", CN_PII_MAC, "00:1a:2b:3c:4d:5e");
	EXPECT("hw 00-1A-2B-3C-4D-5E", CN_PII_MAC, "00-1A-2B-3C-4D-5E");
	EXPECT("cisco 001a.2b3c.4d5e", CN_PII_MAC, "001a.2b3c.4d5e");
}

static void test_dates_licence(void **state)
{
	(void)state;
	found r = scan_at("Patient DOB: 1985-03-12, seen 2024-01-02", 0.5f);
	const cn_pii_finding *dob = has(&r, "Patient DOB: 1985-03-12, seen 2024-01-02", CN_PII_DATE, "1985-03-12");
	const cn_pii_finding *seen = has(&r, "Patient DOB: 1985-03-12, seen 2024-01-02", CN_PII_DATE, "2024-01-02");
	assert_non_null(dob);
	assert_non_null(seen);
	assert_true(dob->score > seen->score); /* birth context raises */
	free(r.f);
	EXPECT("She was born on 7/14/1995.", CN_PII_DATE, "7/14/1995");
	EXPECT("born March 3, 1970 in Ohio", CN_PII_DATE, "March 3, 1970");
	EXPECT_NONE("ratio 13/45/1999", CN_PII_DATE);
	EXPECT("Driver's license number: D1234567", CN_PII_DL, "D1234567");
	EXPECT("DL# WDL-12-3456", CN_PII_DL, "WDL-12-3456");
	EXPECT_NONE("model D1234567 shipped", CN_PII_DL);
}

static void test_secrets(void **state)
{
	(void)state;
	EXPECT("aws_access_key_id=AKIAIOSFODNN7EXAMPLE", CN_PII_API_KEY, "AKIAIOSFODNN7EXAMPLE");
	EXPECT("token ghp_16C7e42F292c6912E7710c838347Ae178B4a ok", CN_PII_API_KEY,
	       "ghp_16C7e42F292c6912E7710c838347Ae178B4a");
	EXPECT("SLACK=xoxb-123456789012-abcdefghijkl", CN_PII_API_KEY, "xoxb-123456789012-abcdefghijkl");
	EXPECT("key sk_live_4eC39HqLyjWDarjtT1zdp7dc", CN_PII_API_KEY, "sk_live_4eC39HqLyjWDarjtT1zdp7dc");
	EXPECT("maps AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", CN_PII_API_KEY,
	       "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY");
	const char *jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
	                  "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
	char buf[512];
	snprintf(buf, sizeof buf, "Authorization: Bearer %s\n", jwt);
	EXPECT(buf, CN_PII_JWT, jwt);
	const char *pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
	                  "KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END RSA PRIVATE KEY-----";
	snprintf(buf, sizeof buf, "key file:\n%s\n", pem);
	EXPECT(buf, CN_PII_PRIVATE_KEY, pem);
	EXPECT("client_secret = 'q8Zr3xT1vK9mP2wL7nB4cY6d'", CN_PII_SECRET, "q8Zr3xT1vK9mP2wL7nB4cY6d");
	EXPECT("password: hunter22x", CN_PII_SECRET, "hunter22x");
	EXPECT_NONE("The secret = 'aaaaaaaaaaaa' is boring", CN_PII_SECRET); /* no entropy */
	EXPECT_NONE("sha q8Zr3xT1vK9mP2wL7nB4cY6dQ8Zr3xT1 in a changelog", CN_PII_SECRET);
}

static void test_names(void **state)
{
	(void)state;
	EXPECT("Yesterday Dr. Amelia Okafor signed it.", CN_PII_PERSON, "Amelia Okafor");
	EXPECT("my name is Oliver Nguyen", CN_PII_PERSON, "Oliver Nguyen");
	EXPECT("She joined Globex Corporation last year.", CN_PII_ORG, "Globex Corporation");
	EXPECT("He works for Initech Ltd.", CN_PII_ORG, "Initech Ltd.");
	EXPECT("We moved to Portugal in May.", CN_PII_LOCATION, "Portugal");
	EXPECT("Ship to 742 Evergreen Terrace, Springfield", CN_PII_ADDRESS, "742 Evergreen Terrace");
	EXPECT("Office: 10 Downing Street", CN_PII_ADDRESS, "10 Downing Street");
	EXPECT("Hauptstraße 5, Berlin", CN_PII_ADDRESS, "Hauptstraße 5");
	EXPECT_NONE("The Quick Report was filed.", CN_PII_PERSON);
}

static void test_context_scores(void **state)
{
	(void)state;
	/* same digits, with and without a phone word */
	found a = scan_at("call me at 0690 123 456", 0.0f), b = scan_at("the code 0690 123 456", 0.0f);
	const cn_pii_finding *pa = has(&a, "call me at 0690 123 456", CN_PII_PHONE, "0690 123 456");
	const cn_pii_finding *pb = has(&b, "the code 0690 123 456", CN_PII_PHONE, "0690 123 456");
	assert_non_null(pa);
	assert_non_null(pb);
	assert_true(pa->score >= 0.5f && pb->score < 0.5f);
	free(a.f);
	free(b.f);
	/* an unknown-issuer Luhn number: a card only when the text says so */
	EXPECT("my card 3598899323053410 was lost", CN_PII_CARD, "3598899323053410");
	EXPECT_NONE("parcel 3598899323053410 was lost", CN_PII_CARD);
}

static void test_bytes_and_masks(void **state)
{
	(void)state;
	const char s[] = "\xff\xfe mail a@b.co \0 \xc3( +1 415 555 2671\x80";
	cn_err err;
	cn_err_clear(&err);
	cn_pii_finding *f = NULL;
	size_t n = 0;
	assert_int_equal(cn_pii_scan(s, sizeof s - 1, NULL, &f, &n, &err), CAIRN_OK);
	assert_int_equal(n, 2);
	assert_int_equal(f[0].type, CN_PII_EMAIL);
	assert_int_equal(f[0].start, 8);
	assert_int_equal(f[1].type, CN_PII_PHONE);
	free(f);
	cn_pii_opts o = cn_pii_default_opts();
	o.type_mask = 1u << CN_PII_PHONE;
	assert_int_equal(cn_pii_scan(s, sizeof s - 1, &o, &f, &n, &err), CAIRN_OK);
	assert_int_equal(n, 1);
	assert_int_equal(f[0].type, CN_PII_PHONE);
	free(f);
	assert_int_equal(cn_pii_scan("", 0, NULL, &f, &n, &err), CAIRN_OK);
	assert_int_equal(n, 0);
	assert_null(f);
	assert_int_equal(cn_pii_type_from_name("GPE", 3), CN_PII_LOCATION);
	assert_int_equal(cn_pii_type_from_name("credit_card", 11), CN_PII_CARD);
	assert_int_equal(cn_pii_type_from_name("NOPE", 4), -1);
	/* a long line of separators and digits stays linear and finds the one real number */
	size_t big = 1 << 20;
	char *t = malloc(big + 64);
	assert_non_null(t);
	for (size_t i = 0; i < big; i++)
		t[i] = "1 -.("[i % 5];
	memcpy(t + big, " tel +1 415 555 2671", 20);
	assert_int_equal(cn_pii_scan(t, big + 20, NULL, &f, &n, &err), CAIRN_OK);
	assert_true(n >= 1);
	assert_int_equal(f[n - 1].end, big + 20);
	free(f);
	free(t);
}

static void test_alloc_failures(void **state)
{
	(void)state;
	const char *s = "Mr. John Smith, 221 Baker Street, john@example.com, +44 20 7946 0958, 4111111111111111";
	for (long k = 1; k < 200; k++) {
		cn_err err;
		cn_err_clear(&err);
		cn_pii_finding *f = NULL;
		size_t n = 0;
		cn_alloc_fail_after(k);
		cairn_status st = cn_pii_scan(s, strlen(s), NULL, &f, &n, &err);
		cn_alloc_fail_after(0);
		if (st == CAIRN_OK) {
			free(f);
			if (k > 20)
				break;
		} else {
			assert_int_equal(st, CAIRN_ENOMEM);
			assert_null(f);
		}
	}
}

/* ---- evaluation on the shared set ----------------------------------------------------------- */

static void test_eval_shared(void **state)
{
	(void)state;
	const char *sh = cn_test_shared_dir();
	char path[1024];
	if (sh)
		snprintf(path, sizeof path, "%s/data/presidio-synth-pii/synth_dataset_v2.part-a.json", sh);
	if (!sh || !cn_path_exists(path)) {
		print_message("skip: presidio-synth-pii not in ../shared (set CAIRN_SHARED)\n");
		skip();
	}
	for (int split = 1; split <= 2; split++) {
		cn_pii_eval ev;
		cn_err err;
		cn_err_clear(&err);
		assert_int_equal(cn_pii_eval_file(path, split, 0.5f, &ev, &err), CAIRN_OK);
		assert_int_equal(ev.records, 500);
		static const char *const structured[] = {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD",
		                                         "IBAN_CODE",     "US_SSN",       "IP_ADDRESS"};
		for (size_t k = 0; k < sizeof structured / sizeof structured[0]; k++) {
			const cn_pii_eval_row *r = NULL;
			for (size_t i = 0; i < ev.nrows; i++)
				if (!strcmp(ev.rows[i].type, structured[k]))
					r = &ev.rows[i];
			assert_non_null(r);
			double p = r->predicted ? (double)r->tp_exact / (double)r->predicted : 0;
			double rc = r->gold ? (double)r->tp_exact / (double)r->gold : 0;
			if (p < 0.95 || rc < 0.95)
				fail_msg("split %d %s: exact P %.3f R %.3f below 0.95", split, structured[k], p, rc);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_luhn_and_issuers),
		cmocka_unit_test(test_iban),
		cmocka_unit_test(test_ssn_rules),
		cmocka_unit_test(test_ip_forms),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_ssn),
		cmocka_unit_test(test_card),
		cmocka_unit_test(test_iban_ip_mac),
		cmocka_unit_test(test_dates_licence),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_context_scores),
		cmocka_unit_test(test_bytes_and_masks),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_eval_shared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
