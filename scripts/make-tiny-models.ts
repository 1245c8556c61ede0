/**
 * Writes the tiny demo models (see @easel/gpu-runtime/tiny-models).
 * Usage: npm run models:tiny [-- <target dir>]   (default: $MODELS_DIR or ./models)
 */
import path from 'node:path';
import { makeTinyModels } from '@easel/gpu-runtime/tiny-models';

const target = path.resolve(process.argv[2] ?? process.env.MODELS_DIR ?? 'models');
const written = await makeTinyModels(target);
for (const dir of Object.values(written)) console.log(`tiny model ready: ${dir}`);
