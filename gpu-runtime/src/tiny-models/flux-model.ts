import { buildFluxTransformer, buildFluxVaeDecoder, buildFluxVaeEncoder, buildT5Encoder } from './flux-graphs.js';
import { t5TokenizerFiles, t5Vocabulary } from './flux-t5-tokenizer.js';
import { WeightRandom } from './random.js';
import { buildTextEncoder } from './text-encoder.js';
import { buildVocabulary, tokenizerFiles } from './tokenizer-files.js';

/**
 * tiny-flux: FLUX.1 [dev] in the diffusers / Optimum layout, fp16 like the usual export:
 * model_index.json naming FluxPipeline, CLIP in text_encoder/, T5 in text_encoder_2/ (int64 ids,
 * 512 tokens), the flow transformer with `guidance`, and a 16-channel VAE. Configs are dev's own
 * (FlowMatchEulerDiscreteScheduler with the dynamic shift, the VAE's scaling and shift factors).
 */

type ModelFiles = Record<string, string | Uint8Array>;
const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n';

const TEXT_LENGTH = 512;
const CLIP_WIDTH = 24;
const T5_WIDTH = 32;

export const FLUX_DEV_SCHEDULER = {
  _class_name: 'FlowMatchEulerDiscreteScheduler',
  _diffusers_version: '0.30.0.dev0',
  base_image_seq_len: 256,
  base_shift: 0.5,
  max_image_seq_len: 4096,
  max_shift: 1.15,
  num_train_timesteps: 1000,
  shift: 3.0,
  use_dynamic_shifting: true,
};

function fluxModelIndex() {
  return {
    _class_name: 'FluxPipeline',
    _diffusers_version: '0.30.0.dev0',
    scheduler: ['diffusers', 'FlowMatchEulerDiscreteScheduler'],
    text_encoder: ['transformers', 'CLIPTextModel'],
    text_encoder_2: ['transformers', 'T5EncoderModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    tokenizer_2: ['transformers', 'T5TokenizerFast'],
    transformer: ['diffusers', 'FluxTransformer2DModel'],
    vae: ['diffusers', 'AutoencoderKL'],
  };
}

const FLUX_VAE_CONFIG = {
  _class_name: 'AutoencoderKL',
  in_channels: 3,
  out_channels: 3,
  latent_channels: 16,
  scaling_factor: 0.3611,
  shift_factor: 0.1159,
  use_post_quant_conv: false,
  use_quant_conv: false,
  force_upcast: true,
  sample_size: 1024,
};

export function tinyFluxDev(): ModelFiles {
  const clipVocabulary = buildVocabulary();
  const clipTokenizer = Object.entries(tokenizerFiles(clipVocabulary, '<|endoftext|>')).map(([name, text]) => [`tokenizer/${name}`, text]);
  const t5Tokenizer = Object.entries(t5TokenizerFiles(TEXT_LENGTH)).map(([name, text]) => [`tokenizer_2/${name}`, text]);
  return {
    'model_index.json': json(fluxModelIndex()),
    'scheduler/scheduler_config.json': json(FLUX_DEV_SCHEDULER),
    ...Object.fromEntries(clipTokenizer),
    ...Object.fromEntries(t5Tokenizer),
    'text_encoder/model.onnx': buildTextEncoder(
      { vocabSize: clipVocabulary.size, hiddenSize: CLIP_WIDTH, layers: 2, maxPositions: 77, layerNormEps: 1e-5, outputType: 'float16' },
      new WeightRandom(3101),
    ),
    'text_encoder_2/model.onnx': buildT5Encoder({ vocabSize: t5Vocabulary().length, width: T5_WIDTH, idsType: 'int64', floatType: 'float16' }, new WeightRandom(3102)),
    'transformer/model.onnx': buildFluxTransformer(
      { textWidth: T5_WIDTH, pooledWidth: CLIP_WIDTH, textLength: TEXT_LENGTH, guidance: true, floatType: 'float16', idsType: 'float32' },
      new WeightRandom(3103),
    ),
    'vae_decoder/model.onnx': buildFluxVaeDecoder('float16', new WeightRandom(3104)),
    'vae_decoder/config.json': json(FLUX_VAE_CONFIG),
    'vae_encoder/model.onnx': buildFluxVaeEncoder('float16', new WeightRandom(3105)),
    'vae_encoder/config.json': json(FLUX_VAE_CONFIG),
  };
}
