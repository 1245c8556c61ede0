/**
 * From a LoRA module name to the ONNX initializer it changes, on the graph that ships.
 *
 * Optimum's export names each node after the torch module it came from:
 * `/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul`. Its weight is the node's
 * second input, an initializer that is often anonymous (`onnx::MatMul_9012`) and, for a MatMul,
 * stored transposed ([in, out] where torch keeps [out, in]). So the index is built from the
 * nodes, not the initializer names, and a weight reached through a Transpose or Cast is followed
 * back to its initializer. A fused graph that merged or renamed a module simply has no entry,
 * and the LoRA keys aimed at it are reported unmatched.
 *
 * SDXL LoRAs trained with SGM names (`input_blocks_4_1_…`, `middle_block_1_…`, `output_blocks_…`)
 * are translated to diffusers' blocks, trying the alternatives against the graph where SGM's
 * numbering is ambiguous (an up block's second layer is an attention or the upsampler).
 */
import type { GraphIndex, Initializer } from './onnx-wire.js';

export interface WeightTarget {
  /** The module path in kohya's spelling. */
  module: string;
  /** The module path as torch writes it: `down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`. */
  path: string;
  initializer: Initializer;
  /** Stored [in, out] (a MatMul's right operand): the [out, in] delta goes in transposed. */
  transposed: boolean;
}

const WEIGHT_OPS = new Set(['MatMul', 'Gemm', 'Conv']);
const PASS_THROUGH = new Set(['Transpose', 'Cast']);

/** `/down_blocks.0/attentions.0/…/to_q/MatMul` -> `down_blocks.0.attentions.0.….to_q`. */
function modulePathOf(nodeName: string): string | undefined {
  const segments = nodeName.split('/').filter(Boolean);
  return segments.length < 2 ? undefined : segments.slice(0, -1).join('.');
}

/** Every weight a LoRA could target in one graph, by module. */
export function indexWeights(graph: GraphIndex): Map<string, WeightTarget> {
  const producer = new Map(graph.nodes.flatMap((node) => node.outputs.map((output) => [output, node] as const)));
  const targets = new Map<string, WeightTarget>();
  for (const node of graph.nodes) {
    if (!WEIGHT_OPS.has(node.opType)) continue;
    const path = modulePathOf(node.name);
    const module = path?.replaceAll('.', '_');
    if (!path || !module || targets.has(module)) continue;
    let value = node.inputs[1];
    let transposed = node.opType === 'MatMul' || (node.opType === 'Gemm' && !node.ints.transB);
    for (let hops = 0; hops < 4 && !graph.initializers.has(value); hops++) {
      const from = producer.get(value);
      if (!from || !PASS_THROUGH.has(from.opType)) break;
      if (from.opType === 'Transpose') transposed = !transposed;
      value = from.inputs[0];
    }
    const initializer = graph.initializers.get(value);
    if (initializer) targets.set(module, { module, path, initializer, transposed: node.opType !== 'Conv' && transposed });
  }
  return targets;
}

const RESNET_LAYERS: Record<string, string> = {
  in_layers_0: 'norm1',
  in_layers_2: 'conv1',
  emb_layers_1: 'time_emb_proj',
  out_layers_0: 'norm2',
  out_layers_3: 'conv2',
  skip_connection: 'conv_shortcut',
};

const GLOBAL_LAYERS: Record<string, string> = {
  input_blocks_0_0: 'conv_in',
  time_embed_0: 'time_embedding_linear_1',
  time_embed_2: 'time_embedding_linear_2',
  label_emb_0_0: 'add_embedding_linear_1',
  label_emb_0_2: 'add_embedding_linear_2',
  out_0: 'conv_norm_out',
  out_2: 'conv_out',
};

const resnet = (prefix: string, rest: string) => `${prefix}_${RESNET_LAYERS[rest] ?? rest}`;

/** Diffusers spellings an SGM UNet module name may stand for, most likely first. */
export function sgmCandidates(module: string): string[] {
  if (GLOBAL_LAYERS[module]) return [GLOBAL_LAYERS[module]];
  let m = /^input_blocks_(\d+)_(\d+)_(.+)$/.exec(module);
  if (m) {
    const [i, j, rest] = [Number(m[1]), Number(m[2]), m[3]];
    const block = Math.floor((i - 1) / 3);
    const layer = (i - 1) % 3;
    if (layer === 2) return [`down_blocks_${block}_downsamplers_0_conv`];
    return [j === 0 ? resnet(`down_blocks_${block}_resnets_${layer}`, rest) : `down_blocks_${block}_attentions_${layer}_${rest}`];
  }
  m = /^middle_block_(\d)_(.+)$/.exec(module);
  if (m) {
    const [j, rest] = [Number(m[1]), m[2]];
    return [j === 1 ? `mid_block_attentions_0_${rest}` : resnet(`mid_block_resnets_${j / 2}`, rest)];
  }
  m = /^output_blocks_(\d+)_(\d+)_(.+)$/.exec(module);
  if (m) {
    const [i, j, rest] = [Number(m[1]), Number(m[2]), m[3]];
    const block = Math.floor(i / 3);
    const layer = i % 3;
    const upsampler = `up_blocks_${block}_upsamplers_0_conv`;
    if (j === 0) return [resnet(`up_blocks_${block}_resnets_${layer}`, rest)];
    if (j === 2 || rest === 'conv') return [upsampler];
    return [`up_blocks_${block}_attentions_${layer}_${rest}`, upsampler];
  }
  return [];
}

/** The graph's weight for a LoRA module, under its own name or, for the UNet, an SGM translation. */
export function findTarget(targets: ReadonlyMap<string, WeightTarget>, module: string, isUnet: boolean): WeightTarget | undefined {
  const direct = targets.get(module);
  if (direct || !isUnet) return direct;
  for (const candidate of sgmCandidates(module)) {
    const found = targets.get(candidate);
    if (found) return found;
  }
  return undefined;
}
