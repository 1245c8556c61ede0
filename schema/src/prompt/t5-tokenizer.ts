import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { isBreak, parseAttention } from './attention.js';
import { TokenizerFilesError } from './clip-tokenizer.js';

/**
 * T5's SentencePiece (Unigram) tokenizer, as Flux's text_encoder_2 takes it: read from the model's
 * own `tokenizer.json` (+ `tokenizer_config.json`) by Hugging Face's tokenizers.js, which runs the
 * file's normalizer (the precompiled NFKC charsmap), Metaspace pre-tokenizer and Unigram model the
 * way the Rust tokenizers crate does. This class adds what the pipeline needs around it: the
 * end-of-sequence token, truncation to the encoder's fixed length (256 for schnell, 512 for dev)
 * and padding, the same as transformers' `T5TokenizerFast(..., padding="max_length",
 * truncation=True)` that diffusers' FluxPipeline calls.
 */
export class T5Tokenizer {
  readonly eosTokenId: number;
  readonly padTokenId: number;

  constructor(private readonly tokenizer: Tokenizer) {
    this.eosTokenId = requireId(tokenizer, '</s>', 'end-of-sequence');
    this.padTokenId = requireId(tokenizer, '<pad>', 'padding');
  }

  /** Loads a tokenizer folder once per process. */
  static fromDirectory(directory: string): Promise<T5Tokenizer> {
    const key = path.resolve(directory);
    let loading = loaded.get(key);
    if (!loading) {
      loading = readTokenizer(key);
      loaded.set(key, loading);
      loading.catch(() => loaded.delete(key));
    }
    return loading;
  }

  /** The text's token ids, without the end-of-sequence token. */
  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /**
   * `maxLength` ids: the text's tokens (cut to leave room), `</s>`, then padding. `used` counts
   * the tokens the text needs with its `</s>`, so `used > maxLength` means the prompt was cut.
   */
  encodePadded(text: string, maxLength: number): { ids: Int32Array; used: number } {
    const tokens = this.encode(text);
    const ids = new Int32Array(maxLength).fill(this.padTokenId);
    const kept = Math.min(tokens.length, maxLength - 1);
    ids.set(tokens.slice(0, kept));
    ids[kept] = this.eosTokenId;
    return { ids, used: tokens.length + 1 };
  }
}

/**
 * What T5 reads of an A1111-style prompt: T5 has no attention weights, so `(word:1.3)` and
 * `[word]` become plain `word` and BREAK is dropped. Easel applies the same reading to CLIP, whose
 * only use in Flux is its pooled embedding, where per-token weights cannot apply either.
 */
export function plainPromptText(prompt: string): string {
  return parseAttention(prompt)
    .filter((segment) => !isBreak(segment))
    .map((segment) => segment.text)
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
}

const loaded = new Map<string, Promise<T5Tokenizer>>();

function requireId(tokenizer: Tokenizer, token: string, role: string): number {
  const id = tokenizer.token_to_id(token);
  if (id === undefined) throw new TokenizerFilesError(`The ${role} token ${token} is not in the T5 tokenizer's vocabulary`);
  return id;
}

async function readJson(file: string, required: boolean): Promise<object> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new TokenizerFilesError(`Cannot read the tokenizer file ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as object;
  } catch {
    throw new TokenizerFilesError(`The tokenizer file ${file} is not valid JSON`);
  }
}

async function readTokenizer(directory: string): Promise<T5Tokenizer> {
  const [json, config] = await Promise.all([
    readJson(path.join(directory, 'tokenizer.json'), true),
    readJson(path.join(directory, 'tokenizer_config.json'), false),
  ]);
  const model = (json as { model?: { type?: unknown } }).model;
  if (model?.type !== 'Unigram') {
    throw new TokenizerFilesError(`${path.join(directory, 'tokenizer.json')} is not a SentencePiece Unigram tokenizer (model type ${String(model?.type)}); T5 needs one`);
  }
  try {
    return new T5Tokenizer(new Tokenizer(json, config));
  } catch (error) {
    if (error instanceof TokenizerFilesError) throw error;
    throw new TokenizerFilesError(`Cannot read ${path.join(directory, 'tokenizer.json')}: ${(error as Error).message}`);
  }
}
