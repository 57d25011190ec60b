/* Unit tests for codec: UTF-8 acceptance, JSON escaping, base64, hex. */
#include "config.h"
#include "testutil.h"

#include "codec.h"

START_TEST(test_text_ok)
{
    ck_assert(codec_text_ok("", 0));
    ck_assert(codec_text_ok("hello world, long enough for the fast path", 42));
    ck_assert(codec_text_ok("h\xc3\xa9", 3));
    ck_assert(codec_text_ok("\xe2\x82\xac", 3));
    ck_assert(codec_text_ok("\xf0\x9f\x98\x80", 4));
    ck_assert(codec_text_ok("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
    ck_assert(!codec_text_ok("a\0b", 3));
    ck_assert(!codec_text_ok("abcdefgh\0", 9));       /* NUL after the fast path */
    ck_assert(!codec_text_ok("\xc0\xaf", 2));         /* overlong */
    ck_assert(!codec_text_ok("\xe0\x80\xaf", 3));     /* overlong */
    ck_assert(!codec_text_ok("\xed\xa0\x80", 3));     /* surrogate */
    ck_assert(!codec_text_ok("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    ck_assert(!codec_text_ok("\xc3", 1));             /* truncated */
    ck_assert(!codec_text_ok("\x80", 1));             /* stray continuation */
    ck_assert(!codec_text_ok("\xff", 1));
}
END_TEST

START_TEST(test_json_escape)
{
    char out[64];
    const char in[] = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f";
    size_t n = codec_json_escape(out, in, sizeof in - 1);
    out[n] = 0;
    ck_assert_str_eq(out, "a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f");
    ck_assert_uint_eq(codec_json_escaped_len(in, sizeof in - 1), n);
}
END_TEST

START_TEST(test_base64)
{
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char out[32], back[32];
        size_t n = codec_b64_encode(out, plain[i], strlen(plain[i]));
        ck_assert_uint_eq(n, CODEC_B64_LEN(strlen(plain[i])));
        out[n] = 0;
        ck_assert_str_eq(out, enc[i]);
        long m = codec_b64_decode(back, out, n);
        ck_assert_int_eq(m, (long)strlen(plain[i]));
        ck_assert_int_eq(memcmp(back, plain[i], (size_t)m), 0);
    }
    unsigned char all[256], b[400], back[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    size_t n = codec_b64_encode((char *)b, all, 256);
    ck_assert_int_eq(codec_b64_decode(back, (char *)b, n), 256);
    ck_assert_int_eq(memcmp(all, back, 256), 0);
    char junk[8];
    ck_assert_int_eq(codec_b64_decode(junk, "abc", 3), -1);
    ck_assert_int_eq(codec_b64_decode(junk, "ab!d", 4), -1);
    ck_assert_int_eq(codec_b64_decode(junk, "a===", 4), -1);
    ck_assert_int_eq(codec_b64_decode(junk, "Zh==", 4), -1); /* non-zero pad bits */
    ck_assert_int_eq(codec_b64_decode(junk, "Zg==Zg==", 8), -1); /* padding mid-stream */
}
END_TEST

START_TEST(test_hex)
{
    char h[9] = {0};
    codec_hex32(h, 0xdeadbeef);
    ck_assert_str_eq(h, "deadbeef");
    uint32_t v;
    ck_assert_int_eq(codec_parse_hex32("0badf00d", &v), 0);
    ck_assert_uint_eq(v, 0x0badf00d);
    ck_assert_int_eq(codec_parse_hex32("0BADF00D", &v), -1);
    ck_assert_int_eq(codec_parse_hex32("0badf00g", &v), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_text_ok);
    tcase_add_test(tc, test_json_escape);
    tcase_add_test(tc, test_base64);
    tcase_add_test(tc, test_hex);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
