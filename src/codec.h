/* codec: the byte-level encodings the WAL uses: strict UTF-8 validation,
 * JSON string escaping, hex, and base64 (RFC 4648, padded). Every function
 * writes into caller-provided memory; none allocates. */
#ifndef KVD_CODEC_H
#define KVD_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* 1 when p[0..n) is valid UTF-8 (no overlongs, no surrogates, nothing above
 * U+10FFFF) and holds no NUL byte: such bytes can go in a JSON string and
 * come back unchanged. */
int codec_text_ok(const void *p, size_t n);

/* Length of the longest prefix of p[0..n) that a JSON string can hold
 * as-is: no '"', no '\\' and no byte below 0x20. */
size_t codec_json_plain_prefix(const void *p, size_t n);

/* Upper bound on codec_json_escape's output for n input bytes. */
#define CODEC_JSON_ESCAPE_MAX(n) ((n) * 6)

/* Write p[0..n) as the inside of a JSON string (no quotes) to dst, escaping
 * '"', '\\' and control characters. Returns bytes written. */
size_t codec_json_escape(char *dst, const void *p, size_t n);

/* Exact length codec_json_escape would produce for p[0..n). */
size_t codec_json_escaped_len(const void *p, size_t n);

/* Base64 output length for n bytes. */
#define CODEC_B64_LEN(n) ((((n) + 2) / 3) * 4)

/* Encode n bytes as padded base64. Returns bytes written. */
size_t codec_b64_encode(char *dst, const void *p, size_t n);

/* Decode padded base64 (no whitespace) into dst, which must hold
 * n / 4 * 3 bytes. Returns the decoded length, or -1 if src is not valid. */
long codec_b64_decode(void *dst, const char *src, size_t n);

/* Eight lowercase hex digits of v into dst (no NUL). */
void codec_hex32(char *dst, uint32_t v);

/* Parse exactly eight lowercase hex digits. Returns 0 or -1. */
int codec_parse_hex32(const char *s, uint32_t *out);

#endif
