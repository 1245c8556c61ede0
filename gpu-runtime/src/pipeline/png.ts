/**
 * The final image: VAE pixels → RGB bytes → PNG with its settings in a `parameters` text chunk,
 * where A1111 puts them, so A1111's "PNG Info", ComfyUI and Civitai read them back.
 */
import { inflateSync } from 'node:zlib';
import extractChunks, { type PngChunk } from 'png-chunks-extract';
import encodeChunks from 'png-chunks-encode';
import pngText from 'png-chunk-text';
import sharp from 'sharp';
import { parseParameters, type ParsedParameters } from './parameters.js';

export const PARAMETERS_KEYWORD = 'parameters';

/**
 * One image of a VAE decoder output (NCHW floats, [-1, 1] for in-range pixels) as interleaved
 * RGB bytes: clamp, map to [0, 255], round.
 */
export function vaePixelsToRgb(pixels: Float32Array, index: number, width: number, height: number): Uint8ClampedArray {
  const plane = width * height;
  const offset = index * 3 * plane;
  const rgb = new Uint8ClampedArray(plane * 3); // clamps and rounds on store
  for (let c = 0; c < 3; c++) {
    const channel = offset + c * plane;
    for (let i = 0; i < plane; i++) rgb[i * 3 + c] = (pixels[channel + i] + 1) * 127.5;
  }
  return rgb;
}

/** The 8-byte signature, then IHDR: always first, always 13 bytes of data (+ length, type, CRC). */
const IHDR_END = 8 + 12 + 13;

/** Encodes RGB bytes as a PNG carrying the given text chunks (e.g. `{ parameters: infotext }`). */
export async function encodePng(rgb: Uint8Array | Uint8ClampedArray, width: number, height: number, text: Record<string, string>): Promise<Buffer> {
  const png = await sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
  if (png.readUInt32BE(8) !== 13 || png.toString('latin1', 12, 16) !== 'IHDR') throw new Error('sharp wrote a PNG that does not start with IHDR');
  // Right after IHDR, before the pixels, so readers that stop early still find the settings. Only
  // the new chunks are encoded (without the signature): re-encoding the image's own chunks would
  // checksum megabytes of pixels again (`npm run bench:pipeline -- png`: +127 ms a 1024² image, +7–13 ms now).
  const textChunks = encodeChunks(Object.entries(text).map(([keyword, value]) => textChunk(keyword, value))).subarray(8);
  return Buffer.concat([png.subarray(0, IHDR_END), textChunks, png.subarray(IHDR_END)]);
}

/** Every text chunk (tEXt, zTXt, iTXt) of a PNG, by keyword. Throws on a buffer that is not a PNG. */
export function readPngText(png: Uint8Array): Record<string, string> {
  const text: Record<string, string> = {};
  for (const chunk of extractChunks(png)) {
    const entry = readTextChunk(chunk);
    if (entry) text[entry.keyword] = entry.text;
  }
  return text;
}

/** The A1111 settings stored in a PNG, or undefined when it has none. */
export function readParameters(png: Uint8Array): ParsedParameters | undefined {
  const infotext = readPngText(png)[PARAMETERS_KEYWORD];
  return infotext === undefined ? undefined : parseParameters(infotext);
}

// tEXt holds Latin-1 only; like PIL (and so A1111), fall back to an uncompressed UTF-8 iTXt.
function textChunk(keyword: string, value: string): PngChunk {
  if (/^[\x01-\xff]*$/.test(value)) return pngText.encode(keyword, value);
  const header = Buffer.from(`${keyword}\0\0\0\0\0`, 'latin1'); // keyword, flag, method, language, translated keyword
  return { name: 'iTXt', data: Buffer.concat([header, Buffer.from(value, 'utf8')]) };
}

function readTextChunk(chunk: PngChunk): { keyword: string; text: string } | undefined {
  const data = Buffer.from(chunk.data.buffer, chunk.data.byteOffset, chunk.data.byteLength);
  const keywordEnd = data.indexOf(0);
  if (keywordEnd < 0) return undefined;
  const keyword = data.toString('latin1', 0, keywordEnd);
  switch (chunk.name) {
    case 'tEXt':
      return { keyword, text: data.toString('latin1', keywordEnd + 1) };
    case 'zTXt':
      return { keyword, text: inflateSync(data.subarray(keywordEnd + 2)).toString('latin1') };
    case 'iTXt': {
      const compressed = data[keywordEnd + 1] === 1;
      const languageEnd = data.indexOf(0, keywordEnd + 3);
      const translatedEnd = data.indexOf(0, languageEnd + 1);
      if (languageEnd < 0 || translatedEnd < 0) return undefined;
      const body = data.subarray(translatedEnd + 1);
      return { keyword, text: (compressed ? inflateSync(body) : body).toString('utf8') };
    }
    default:
      return undefined;
  }
}
