import ort from 'onnxruntime-node';
import { ModelLoadError } from './errors.js';
import { applyLayerNorm, fitLayerNorm, type LayerNormWeights } from './layer-norm.js';
import { hasOutput, readFloats, requireInput, requireOutput } from './onnx-io.js';

/** Which hidden state to condition on. */
export interface HiddenStateChoice {
  /** 1 is the last layer's output, 2 the penultimate, and so on (A1111's clip skip numbering). */
  layerFromEnd: number;
  /** Put it through the encoder's final layer norm, as SD 1.x conditioning does (SDXL does not). */
  finalLayerNorm: boolean;
}

export interface TextEncoderOutput {
  /** [batch, sequenceLength, width] */
  hidden: Float32Array;
  /** [batch, pooledWidth]: `pooler_output`, or `text_embeds` for an encoder with a projection (SDXL's second). */
  pooled: Float32Array;
}

const HIDDEN_STATE = /^hidden_states\.(\d+)$/;

/**
 * A CLIP text encoder session (Optimum names): `input_ids` int32 -> `last_hidden_state`,
 * `pooler_output` or `text_embeds`, and `hidden_states.0..N` (0 is the embeddings, N the last layer).
 */
export class TextEncoder {
  /** Feature width of the hidden states: 768 for CLIP ViT-L, 1280 for OpenCLIP ViT-bigG. */
  readonly width: number;
  readonly pooledWidth: number;
  /** Transformer layers whose outputs are exposed; 0 when the export has no hidden_states outputs. */
  readonly layers: number;
  private readonly pooledOutput: string;
  private readonly idsType: 'int32' | 'int64';
  private finalNorm?: LayerNormWeights;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly file: string,
    private readonly layerNormEpsilon: number,
    configuredWidth?: number,
  ) {
    const ids = requireInput(session, 'input_ids', file);
    if (ids.type !== 'int32' && ids.type !== 'int64') {
      throw new ModelLoadError('MODEL_INVALID', `${file}: input_ids is ${ids.type}; expected int32 or int64`);
    }
    this.idsType = ids.type;
    const last = requireOutput(session, 'last_hidden_state', file);
    this.pooledOutput = hasOutput(session, 'text_embeds') ? 'text_embeds' : 'pooler_output';
    const pooled = requireOutput(session, this.pooledOutput, file);

    const width = last.shape[2];
    const pooledWidth = pooled.shape[1];
    this.width = typeof width === 'number' ? width : (configuredWidth ?? 0);
    this.pooledWidth = typeof pooledWidth === 'number' ? pooledWidth : this.width;
    if (!this.width) throw new ModelLoadError('MODEL_INVALID', `${file}: cannot tell the hidden size (no fixed last dimension, no config.json hidden_size)`);

    const indices = session.outputNames.flatMap((name) => HIDDEN_STATE.exec(name)?.[1] ?? []).map(Number);
    this.layers = indices.length === 0 ? 0 : Math.max(...indices);
    if (indices.length !== 0 && indices.length !== this.layers + 1) {
      throw new ModelLoadError('MODEL_INVALID', `${file}: hidden_states outputs are not numbered 0..${this.layers}`);
    }
  }

  /**
   * Encodes `batch` rows of token ids (each `inputIds.length / batch` long, 77 for CLIP) and returns
   * the chosen hidden state and the pooled output, both float32.
   */
  async encode(inputIds: Int32Array, batch: number, choice: HiddenStateChoice): Promise<TextEncoderOutput> {
    const sequenceLength = inputIds.length / batch;
    const dims = [batch, sequenceLength];
    const ids = this.idsType === 'int32' ? new ort.Tensor('int32', inputIds, dims) : new ort.Tensor('int64', BigInt64Array.from(inputIds, BigInt), dims);
    const useLast = choice.layerFromEnd === 1 && choice.finalLayerNorm;
    const hiddenName = useLast ? 'last_hidden_state' : this.hiddenStateName(choice.layerFromEnd);
    const fitNorm = !useLast && choice.finalLayerNorm && !this.finalNorm;
    const fetches = new Set([this.pooledOutput, hiddenName]);
    if (fitNorm) fetches.add('last_hidden_state').add(`hidden_states.${this.layers}`);

    const results = await this.session.run({ input_ids: ids }, [...fetches]);
    let hidden = readFloats(results[hiddenName]);
    if (!useLast && choice.finalLayerNorm) {
      if (fitNorm) {
        const lastLayer = readFloats(results[`hidden_states.${this.layers}`]);
        this.finalNorm = fitLayerNorm(lastLayer, readFloats(results.last_hidden_state), this.width, this.layerNormEpsilon);
      }
      hidden = applyLayerNorm(hidden, this.width, this.finalNorm!);
    }
    return { hidden, pooled: readFloats(results[this.pooledOutput]) };
  }

  private hiddenStateName(layerFromEnd: number): string {
    if (this.layers === 0) {
      throw new ModelLoadError(
        'MODEL_INCOMPLETE',
        `${this.file} has no hidden_states outputs, which clip skip and SDXL conditioning need; export it with Optimum, which adds them`,
      );
    }
    if (!Number.isInteger(layerFromEnd) || layerFromEnd < 1 || layerFromEnd > this.layers) {
      throw new RangeError(`${this.file} has ${this.layers} layers; cannot take layer ${layerFromEnd} from the end`);
    }
    return `hidden_states.${this.layers + 1 - layerFromEnd}`;
  }

  /** The same encoder over another session of the same graph (merged LoRA weights). */
  withSession(session: ort.InferenceSession): TextEncoder {
    return new TextEncoder(session, this.file, this.layerNormEpsilon, this.width);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
