/* codec: byte-stream compressors used by the lzcodec benchmark. */
#ifndef BUILTIN_CODEC_H
#define BUILTIN_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Each compressor writes at most codec_bound(n) bytes and returns the
 * compressed size; each decompressor returns the decoded size or -1 on a
 * malformed stream (it never writes more than out_cap bytes). */
size_t codec_bound(size_t n);

size_t lzss_compress(const uint8_t *in, size_t n, uint8_t *out);
long lzss_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t out_cap);

size_t lzw_compress(const uint8_t *in, size_t n, uint8_t *out);
long lzw_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t out_cap);

#endif
