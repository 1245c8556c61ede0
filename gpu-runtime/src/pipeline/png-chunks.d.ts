// The png-chunk packages ship no types; these are the parts we call.
declare module 'png-chunks-extract' {
  export interface PngChunk {
    name: string;
    data: Uint8Array;
  }
  export default function extractChunks(data: Uint8Array): PngChunk[];
}

declare module 'png-chunks-encode' {
  import type { PngChunk } from 'png-chunks-extract';
  export default function encodeChunks(chunks: PngChunk[]): Uint8Array;
}

declare module 'png-chunk-text' {
  import type { PngChunk } from 'png-chunks-extract';
  const text: {
    /** A Latin-1 tEXt chunk; throws on other characters. */
    encode(keyword: string, text: string): PngChunk;
  };
  export default text;
}
