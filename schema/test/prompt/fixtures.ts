import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = path.resolve(repoRoot, '../shared/fixtures');

/** The real tokenizer folders of two public models. */
export const TOKENIZER_DIRS = {
  sd15: path.join(fixtures, 'sd15-pastel-mix/tokenizer'),
  sdxl: path.join(fixtures, 'sdxl-base-1.0/tokenizer'),
  sdxl2: path.join(fixtures, 'sdxl-base-1.0/tokenizer_2'),
};
