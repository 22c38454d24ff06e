/**
 * kafkajs ships only gzip; like any kafkajs user, tests plug codecs in for snappy, lz4 and zstd.
 * Ours come from protocol/records, whose codecs are checked against the reference CLIs separately.
 */
import kafkajs from 'kafkajs';
import { CompressionCodec, compress, decompress } from '../../protocol/records/index.js';

const { CompressionCodecs, CompressionTypes } = kafkajs;

function codec(c: CompressionCodec) {
  return () => ({
    async compress(encoder: { buffer: Buffer }) {
      return compress(c, encoder.buffer);
    },
    async decompress(buffer: Buffer) {
      return decompress(c, buffer);
    },
  });
}

export function registerKafkajsCodecs(): void {
  CompressionCodecs[CompressionTypes.Snappy] = codec(CompressionCodec.Snappy);
  CompressionCodecs[CompressionTypes.LZ4] = codec(CompressionCodec.Lz4);
  CompressionCodecs[CompressionTypes.ZSTD] = codec(CompressionCodec.Zstd);
}
