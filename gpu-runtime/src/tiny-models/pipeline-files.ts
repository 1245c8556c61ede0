/**
 * The JSON files around the ONNX graphs, shaped like the real ones in ../shared/fixtures (same keys,
 * same scheduler values), with the tiny networks' sizes.
 */

/** SD 1.5 (as in the sd15-pastel-mix fixture): scaled_linear betas, epsilon prediction. */
export const SD15_SCHEDULER = {
  _class_name: 'DDIMScheduler',
  _diffusers_version: '0.10.2',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
};

/** SDXL base 1.0 (as in the sdxl-base-1.0 fixture). */
export const SDXL_SCHEDULER = {
  _class_name: 'EulerDiscreteScheduler',
  _diffusers_version: '0.19.0.dev0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  interpolation_type: 'linear',
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  sample_max_value: 1.0,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  timestep_spacing: 'leading',
  trained_betas: null,
  use_karras_sigmas: false,
};

export function sd15ModelIndex() {
  return {
    _class_name: 'StableDiffusionPipeline',
    _diffusers_version: '0.10.2',
    feature_extractor: [null, null],
    requires_safety_checker: null,
    safety_checker: [null, null],
    scheduler: ['diffusers', 'DDIMScheduler'],
    text_encoder: ['transformers', 'CLIPTextModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae: ['diffusers', 'AutoencoderKL'],
  };
}

export function sdxlModelIndex() {
  return {
    _class_name: 'StableDiffusionXLPipeline',
    _diffusers_version: '0.19.0.dev0',
    force_zeros_for_empty_prompt: true,
    add_watermarker: null,
    scheduler: ['diffusers', 'EulerDiscreteScheduler'],
    text_encoder: ['transformers', 'CLIPTextModel'],
    text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    tokenizer_2: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae: ['diffusers', 'AutoencoderKL'],
  };
}

export interface TextEncoderConfigInput {
  hiddenSize: number;
  layers: number;
  vocabSize: number;
  layerNormEps: number;
  projectionDim?: number;
  dtype: 'float32' | 'float16';
}

export function textEncoderConfig(input: TextEncoderConfigInput) {
  return {
    architectures: [input.projectionDim === undefined ? 'CLIPTextModel' : 'CLIPTextModelWithProjection'],
    attention_dropout: 0.0,
    bos_token_id: input.vocabSize - 2,
    dropout: 0.0,
    eos_token_id: input.vocabSize - 1,
    hidden_act: input.projectionDim === undefined ? 'quick_gelu' : 'gelu',
    hidden_size: input.hiddenSize,
    initializer_factor: 1.0,
    initializer_range: 0.02,
    intermediate_size: 4 * input.hiddenSize,
    layer_norm_eps: input.layerNormEps,
    max_position_embeddings: 77,
    model_type: 'clip_text_model',
    num_attention_heads: 1,
    num_hidden_layers: input.layers,
    pad_token_id: 1,
    projection_dim: input.projectionDim ?? input.hiddenSize,
    torch_dtype: input.dtype,
    vocab_size: input.vocabSize,
  };
}

export function unetConfig(input: { crossAttentionDim: number; sampleSize: number; pooledDim?: number }) {
  const sdxl = input.pooledDim !== undefined;
  return {
    _class_name: 'UNet2DConditionModel',
    act_fn: 'silu',
    addition_embed_type: sdxl ? 'text_time' : null,
    addition_time_embed_dim: sdxl ? 8 : null,
    block_out_channels: [8],
    cross_attention_dim: input.crossAttentionDim,
    down_block_types: ['DownBlock2D'],
    flip_sin_to_cos: true,
    freq_shift: 0,
    in_channels: 4,
    layers_per_block: 1,
    out_channels: 4,
    projection_class_embeddings_input_dim: sdxl ? input.pooledDim! + 6 * 8 : null,
    sample_size: input.sampleSize,
    up_block_types: ['UpBlock2D'],
  };
}

export function vaeConfig(input: { scalingFactor: number; sampleSize: number; forceUpcast: boolean }) {
  return {
    _class_name: 'AutoencoderKL',
    act_fn: 'silu',
    // Four blocks: the 8x factor between latents and pixels, as the real VAE has.
    block_out_channels: [8, 8, 8, 8],
    down_block_types: Array(4).fill('DownEncoderBlock2D'),
    force_upcast: input.forceUpcast,
    in_channels: 3,
    latent_channels: 4,
    layers_per_block: 1,
    norm_num_groups: 8,
    out_channels: 3,
    sample_size: input.sampleSize,
    scaling_factor: input.scalingFactor,
    up_block_types: Array(4).fill('UpDecoderBlock2D'),
  };
}
