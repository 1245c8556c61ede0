/**
 * `npm run bench:lora`: what switching LoRAs costs on real SD 1.5 and SDXL shapes.
 *
 * No real weights exist here, so each case is a tiny model whose UNet is replaced by one with
 * every attention projection of the real architecture (to_q, to_k, to_v, to_out.0 of attn1 and
 * attn2 in every transformer block), fp16, in external data, named as Optimum's export names
 * them, and a kohya LoRA of rank 32 over all of them, fp16. The numbers: the merge and session
 * open of a LoRA set (cold: first set on the model, reading its weights; warm: another set on the
 * same model), and a cache hit. The session is opened on the CPU provider, as this machine has.
 *
 * BENCH_LORA_SDXL_FRACTION (default 1) keeps that fraction of SDXL's transformer blocks, for
 * machines without the memory the full SDXL case needs (about five times its 1.9 GB of weights:
 * the weights read for merging, the base session, one merged set and its session).
 */
import { cp, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LoraCache } from '@easel/gpu-runtime/lora';
import { loadModel } from '@easel/gpu-runtime/models';
import { DataLocation, ElemType, encodeModel, encodeSafetensors, makeTinyModels, nodeNameOf, stringEntries, type NodeMessage, type TensorMessage, type ValueInfoMessage } from '@easel/gpu-runtime/tiny-models';

const RANK = 32;

interface Block {
  /** `down_blocks.0.attentions.0.transformer_blocks.0` */
  prefix: string;
  channels: number;
}

/** Transformer blocks of SD 1.5: depth 1 everywhere; down 0-2 (2 attentions), mid, up 1-3 (3 attentions). */
function sd15Blocks(): Block[] {
  const blocks: Block[] = [];
  [320, 640, 1280].forEach((channels, i) => [0, 1].forEach((a) => blocks.push({ prefix: `down_blocks.${i}.attentions.${a}.transformer_blocks.0`, channels })));
  blocks.push({ prefix: 'mid_block.attentions.0.transformer_blocks.0', channels: 1280 });
  [1280, 640, 320].forEach((channels, i) => [0, 1, 2].forEach((a) => blocks.push({ prefix: `up_blocks.${i + 1}.attentions.${a}.transformer_blocks.0`, channels })));
  return blocks;
}

/** SDXL: down 1 (640, depth 2), down 2 (1280, depth 10), mid (1280, 10), up 0 (1280, 10 ×3), up 1 (640, 2 ×3). */
function sdxlBlocks(): Block[] {
  const blocks: Block[] = [];
  const add = (prefix: string, attentions: number, depth: number, channels: number) => {
    for (let a = 0; a < attentions; a++) for (let d = 0; d < depth; d++) blocks.push({ prefix: `${prefix}.attentions.${a}.transformer_blocks.${d}`, channels });
  };
  add('down_blocks.1', 2, 2, 640);
  add('down_blocks.2', 2, 10, 1280);
  add('mid_block', 1, 10, 1280);
  add('up_blocks.0', 3, 10, 1280);
  add('up_blocks.1', 3, 2, 640);
  return blocks;
}

interface Projection {
  module: string;
  inFeatures: number;
  outFeatures: number;
}

function projections(blocks: Block[], contextDim: number): Projection[] {
  return blocks.flatMap(({ prefix, channels: c }) => [
    ...['to_q', 'to_k', 'to_v', 'to_out.0'].map((p) => ({ module: `${prefix}.attn1.${p}`, inFeatures: c, outFeatures: c })),
    { module: `${prefix}.attn2.to_q`, inFeatures: c, outFeatures: c },
    { module: `${prefix}.attn2.to_k`, inFeatures: contextDim, outFeatures: c },
    { module: `${prefix}.attn2.to_v`, inFeatures: contextDim, outFeatures: c },
    { module: `${prefix}.attn2.to_out.0`, inFeatures: c, outFeatures: c },
  ]);
}

/** Cheap deterministic fp16 values around ±0.02 (bit patterns; no need for a real distribution). */
function halfValues(count: number, seed: number): Uint16Array {
  const out = new Uint16Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = 0x2000 | (state >>> 22) | ((state & 1) << 15); // exponent ~2⁻⁷, random mantissa and sign
  }
  return out;
}

const valueInfo = (name: string, elemType: number, dims: (number | string)[]): ValueInfoMessage => ({
  name,
  type: {
    value: {
      case: 'tensorType',
      value: { elemType, shape: { dim: dims.map((d) => ({ value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d } })) } },
    },
  },
});

/**
 * A UNet with the real attention weights: it opens as our UNet class expects (sample, timestep,
 * encoder_hidden_states -> out_sample) and computes nothing worth running; sessions are what is timed.
 */
function attentionUNet(list: Projection[]): { model: Uint8Array; data: Buffer } {
  const nodes: NodeMessage[] = [{ name: 'identity', opType: 'Identity', input: ['sample'], output: ['out_sample'], attribute: [] }];
  const initializers: TensorMessage[] = [];
  const widths = [...new Set(list.map((p) => p.inFeatures))];
  const inputs = [
    valueInfo('sample', ElemType.FLOAT16, ['batch', 4, 'height', 'width']),
    valueInfo('timestep', ElemType.FLOAT16, []),
    valueInfo('encoder_hidden_states', ElemType.FLOAT16, ['batch', 'sequence', 'context']),
    ...widths.map((w) => valueInfo(`features_${w}`, ElemType.FLOAT16, [1, w])),
  ];
  const outputs = [valueInfo('out_sample', ElemType.FLOAT16, ['batch', 4, 'height', 'width'])];
  const chunks: Buffer[] = [];
  let offset = 0;
  list.forEach(({ module, inFeatures, outFeatures }, i) => {
    const weight = `onnx::MatMul_${1000 + i}`;
    const bytes = Buffer.from(halfValues(inFeatures * outFeatures, i + 1).buffer);
    initializers.push({
      name: weight,
      dims: [BigInt(inFeatures), BigInt(outFeatures)],
      dataType: ElemType.FLOAT16,
      rawData: new Uint8Array(),
      dataLocation: DataLocation.EXTERNAL,
      externalData: stringEntries({ location: 'model.onnx_data', offset: String(offset), length: String(bytes.length) }),
    });
    chunks.push(bytes);
    offset += bytes.length;
    const output = `${module}.out`;
    nodes.push({ name: nodeNameOf(module, 'MatMul'), opType: 'MatMul', input: [`features_${inFeatures}`, weight], output: [output], attribute: [] });
    outputs.push(valueInfo(output, ElemType.FLOAT16, [1, outFeatures]));
  });
  const model = encodeModel({
    irVersion: 8n,
    producerName: 'easel-bench-lora',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: 17n }],
    graph: { name: 'unet', node: nodes, initializer: initializers, input: inputs, output: outputs },
  });
  return { model, data: Buffer.concat(chunks) };
}

/** Writes the UNet into `dir`; returns the bytes of its weights (not held on to: SDXL's are 2 GB). */
async function writeAttentionUNet(dir: string, list: Projection[]): Promise<number> {
  const unet = attentionUNet(list);
  await writeFile(path.join(dir, 'model.onnx'), unet.model);
  await writeFile(path.join(dir, 'model.onnx_data'), unet.data);
  return unet.data.length;
}

function kohyaLora(list: Projection[], seed: number): Uint8Array {
  const tensors: Record<string, { shape: number[]; values: Float32Array }> = {};
  const values = (count: number, s: number) => Float32Array.from({ length: count }, (_, i) => Math.sin(i * 12.9898 + s) * 0.05);
  list.forEach(({ module, inFeatures, outFeatures }, i) => {
    const key = `lora_unet_${module.replaceAll('.', '_')}`;
    tensors[`${key}.lora_down.weight`] = { shape: [RANK, inFeatures], values: values(RANK * inFeatures, seed + i) };
    tensors[`${key}.lora_up.weight`] = { shape: [outFeatures, RANK], values: values(outFeatures * RANK, seed - i) };
    tensors[`${key}.alpha`] = { shape: [], values: Float32Array.of(RANK) };
  });
  return encodeSafetensors(tensors, { float16: true });
}

const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MB`;
const ms = (value: number) => `${value.toFixed(0)} ms`;

async function benchCase(label: string, tinyDir: string, root: string, list: Projection[]): Promise<void> {
  const dir = path.join(root, label);
  await cp(tinyDir, dir, { recursive: true });
  const weightBytes = await writeAttentionUNet(path.join(dir, 'unet'), list);
  const [loraA, loraB] = [path.join(root, `${label}-a.safetensors`), path.join(root, `${label}-b.safetensors`)];
  await writeFile(loraA, kohyaLora(list, 1));
  await writeFile(loraB, kohyaLora(list, 2));

  let started = performance.now();
  await loadModel(dir);
  const baseLoad = performance.now() - started;
  // A budget of 0: a set is released as soon as nothing uses it, so at most one is held beside
  // the base; the full SDXL case then fits in this machine's memory.
  const cache = new LoraCache(0);
  const cold = await cache.acquire(dir, [{ name: 'a', file: loraA, weight: 0.8 }]);
  started = performance.now();
  const hit = await cache.acquire(dir, [{ name: 'a', file: loraA, weight: 0.8 }]);
  const hitMs = performance.now() - started;
  const heldBytes = cache.bytes;
  cold.release();
  hit.release();
  const warm = await cache.acquire(dir, [{ name: 'b', file: loraB, weight: 0.8 }]);
  warm.release();
  const both = await cache.acquire(dir, [
    { name: 'a', file: loraA, weight: 0.5 },
    { name: 'b', file: loraB, weight: 0.5 },
  ]);
  both.release();
  console.log(`\n${label}: ${list.length} attention projections, ${mb(weightBytes)} of fp16 weights, LoRA rank ${RANK} (${mb((await stat(loraA)).size)})`);
  console.log(`  base model load (sessions from files)      ${ms(baseLoad)}`);
  console.log(`  switch, first LoRA set (reads the weights)  ${ms(cold.switchMs)}   applied ${cold.loras[0].applied}, unmatched ${cold.loras[0].unmatched.length}`);
  console.log(`  switch, another LoRA set                   ${ms(warm.switchMs)}`);
  console.log(`  switch, two LoRAs at once                  ${ms(both.switchMs)}`);
  console.log(`  cache hit                                  ${hitMs.toFixed(2)} ms  (${hit.cacheHit ? 'hit' : 'MISS'})`);
  console.log(`  one set charged ${mb(heldBytes)} (merged weights and the re-opened part); switch/base load = ${(warm.switchMs / baseLoad).toFixed(2)}`);
  await cache.clear();
}

const root = await mkdtemp(path.join(os.tmpdir(), 'easel-bench-lora-'));
try {
  const tiny = await makeTinyModels(root);
  await benchCase('SD 1.5', tiny['tiny-sd15'], root, projections(sd15Blocks(), 768));
  const fraction = Number(process.env.BENCH_LORA_SDXL_FRACTION ?? 1);
  const blocks = sdxlBlocks();
  const kept = blocks.filter((_, i) => i < Math.round(blocks.length * fraction));
  await benchCase(fraction === 1 ? 'SDXL' : `SDXL (${kept.length} of ${blocks.length} transformer blocks)`, tiny['tiny-sdxl'], root, projections(kept, 2048));
} finally {
  await rm(root, { recursive: true, force: true });
}
