import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BytePairEncoder } from './byte-pair-encoding.js';
import { cleanText } from './text-cleaning.js';

/**
 * CLIP's byte-level BPE tokenizer, read from a Hugging Face tokenizer folder (`vocab.json`,
 * `merges.txt`, `special_tokens_map.json`, `tokenizer_config.json`), giving the same ids as
 * transformers' CLIPTokenizer: clean and lowercase the text, split it with CLIP's pattern, map
 * each piece's UTF-8 bytes to printable characters, and merge them with `</w>` ending each word.
 */
export class ClipTokenizer {
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  /** SD 1.x pads with the end-of-text token; SDXL's second tokenizer pads with `!` (id 0). */
  readonly padTokenId: number;
  readonly unkTokenId: number;
  /** Sequence length the text encoder takes, BOS and EOS included: 77 for every CLIP. */
  readonly modelMaxLength: number;
  /** vocab.json as parsed: building a Map from its 49,408 entries would double the load time. */
  private readonly vocab: Readonly<Record<string, number>>;
  private readonly specialTokens: Map<string, number>;
  private readonly bpe: BytePairEncoder;
  private readonly wordCache = new Map<string, readonly number[]>();

  constructor(files: ClipTokenizerFiles) {
    this.vocab = files.vocab;
    this.bpe = new BytePairEncoder(files.merges);
    const special = { ...CLIP_DEFAULT_SPECIAL_TOKENS, ...files.specialTokens };
    this.bosTokenId = this.requireId(special.bos, 'beginning-of-text');
    this.eosTokenId = this.requireId(special.eos, 'end-of-text');
    this.padTokenId = this.requireId(special.pad, 'padding');
    this.unkTokenId = this.requireId(special.unk, 'unknown');
    this.specialTokens = new Map([
      [special.bos, this.bosTokenId],
      [special.eos, this.eosTokenId],
    ]);
    this.modelMaxLength = files.modelMaxLength ?? CLIP_MAX_LENGTH;
  }

  /** Loads a tokenizer folder once per process; later calls for the same folder share it. */
  static fromDirectory(directory: string): Promise<ClipTokenizer> {
    const key = path.resolve(directory);
    let loading = loadedTokenizers.get(key);
    if (!loading) {
      loading = readTokenizerFiles(key).then((files) => new ClipTokenizer(files));
      loadedTokenizers.set(key, loading);
      // A folder that failed to load (say, mid-download) is read again next time.
      loading.catch(() => loadedTokenizers.delete(key));
    }
    return loading;
  }

  /** The prompt's token ids, without BOS and EOS. */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const word of cleanText(text).match(CLIP_PRE_TOKENIZER) ?? []) {
      for (const id of this.encodeWord(word)) ids.push(id);
    }
    return ids;
  }

  /** The id of a vocabulary entry such as `,</w>`, if the vocabulary has it. */
  tokenId(token: string): number | undefined {
    return Object.hasOwn(this.vocab, token) ? this.vocab[token] : undefined;
  }

  private encodeWord(word: string): readonly number[] {
    const special = this.specialTokens.get(word);
    if (special !== undefined) return [special];
    let ids = this.wordCache.get(word);
    if (!ids) {
      const symbols = this.bpe.encode(toByteSymbols(word));
      ids = symbols.map((symbol) => this.tokenId(symbol) ?? this.unkTokenId);
      // Prompts are user input: bound the cache so a flood of unique words cannot grow it forever.
      if (this.wordCache.size >= WORD_CACHE_LIMIT) this.wordCache.delete(this.wordCache.keys().next().value!);
      this.wordCache.set(word, ids);
    }
    return ids;
  }

  private requireId(token: string, role: string): number {
    const id = this.tokenId(token);
    if (id === undefined) {
      throw new TokenizerFilesError(`The ${role} token ${JSON.stringify(token)} is not in the tokenizer's vocab.json`);
    }
    return id;
  }
}

/** What a tokenizer folder holds, parsed. */
export interface ClipTokenizerFiles {
  vocab: Record<string, number>;
  /** The lines of merges.txt after its `#version` header, highest priority first: "a b". */
  merges: readonly string[];
  specialTokens?: Partial<Record<'bos' | 'eos' | 'pad' | 'unk', string>>;
  modelMaxLength?: number;
}

export class TokenizerFilesError extends Error {
  readonly code = 'TOKENIZER_FILES_INVALID';
  override readonly name = 'TokenizerFilesError';
}

/** transformers' CLIPTokenizer defaults, used where a folder's config leaves a token out. */
const CLIP_DEFAULT_SPECIAL_TOKENS = {
  bos: '<|startoftext|>',
  eos: '<|endoftext|>',
  pad: '<|endoftext|>',
  unk: '<|endoftext|>',
};
const CLIP_MAX_LENGTH = 77;
const WORD_CACHE_LIMIT = 50_000;

/** CLIP's split: the special tokens, English contractions, letter runs, single digits, symbol runs. */
const CLIP_PRE_TOKENIZER =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/gu;

const loadedTokenizers = new Map<string, Promise<ClipTokenizer>>();

/**
 * GPT-2's reversible byte-to-character table: printable Latin-1 bytes stand for themselves, the
 * rest are moved to U+0100 and up, so every byte string becomes a string of visible characters.
 */
const BYTE_SYMBOLS: readonly string[] = (() => {
  const isPrintable = (byte: number) =>
    (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
  let next = 0x100;
  return Array.from({ length: 256 }, (_, byte) => String.fromCharCode(isPrintable(byte) ? byte : next++));
})();

function toByteSymbols(word: string): string[] {
  return Array.from(Buffer.from(word, 'utf8'), (byte) => BYTE_SYMBOLS[byte]);
}

async function readTokenizerFiles(directory: string): Promise<ClipTokenizerFiles> {
  const read = async (file: string, required: boolean): Promise<string | undefined> => {
    try {
      return await readFile(path.join(directory, file), 'utf8');
    } catch (error) {
      if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new TokenizerFilesError(`Cannot read the tokenizer file ${path.join(directory, file)}: ${(error as Error).message}`);
    }
  };
  const parseJson = (file: string, text: string | undefined): Record<string, unknown> => {
    if (text === undefined) return {};
    try {
      const value: unknown = JSON.parse(text);
      if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // reported below, with the file's name
    }
    throw new TokenizerFilesError(`The tokenizer file ${path.join(directory, file)} is not a JSON object`);
  };

  const [vocabText, mergesText, specialMapText, configText] = await Promise.all([
    read('vocab.json', true),
    read('merges.txt', true),
    read('special_tokens_map.json', false),
    read('tokenizer_config.json', false),
  ]);
  const vocab = parseJson('vocab.json', vocabText);
  if (!Object.values(vocab).every((id) => Number.isInteger(id))) {
    throw new TokenizerFilesError(`The tokenizer file ${path.join(directory, 'vocab.json')} must map tokens to integer ids`);
  }
  // special_tokens_map.json wins over tokenizer_config.json, as in transformers.
  const config = { ...parseJson('tokenizer_config.json', configText), ...parseJson('special_tokens_map.json', specialMapText) };
  const specialTokens: ClipTokenizerFiles['specialTokens'] = {};
  for (const role of ['bos', 'eos', 'pad', 'unk'] as const) {
    const token = tokenContent(config[`${role}_token`]);
    if (token !== undefined) specialTokens[role] = token;
  }
  return {
    vocab: vocab as Record<string, number>,
    merges: mergesText!.split(/\r?\n/).filter((line, i) => line && !(i === 0 && line.startsWith('#version'))),
    specialTokens,
    modelMaxLength: plausibleMaxLength(config.model_max_length),
  };
}

/** A special token is written either as its text or as an AddedToken object with `content`. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/** Some configs say "no limit" with a huge number (1e30); CLIP's position table still ends at 77. */
function plausibleMaxLength(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 2 && value <= 4096 ? value : undefined;
}
