/**
 * Which files of a Hub repository make up its ONNX export in Optimum's layout. Repositories often
 * hold the PyTorch weights too (several gigabytes of safetensors per part): those are left alone.
 */
import type { HubFile } from './hub-api.js';

/** Folders whose ONNX graphs (and their external weight files) the runtime loads. */
const ONNX_PARTS = new Set(['text_encoder', 'text_encoder_2', 'unet', 'transformer', 'vae_decoder', 'vae_encoder']);
/** Folders of small configuration files the runtime reads. */
const CONFIG_PARTS = new Set([...ONNX_PARTS, 'scheduler', 'tokenizer', 'tokenizer_2', 'vae']);

/** ONNX graphs, and the external data beside them: Optimum's `model.onnx_data`, older exports' `weights.pb`. */
const ONNX_FILE = /(\.onnx|\.onnx_data|\.onnx\.data|^weights\.pb)$/;
const CONFIG_FILE = /\.(json|txt)$/;

export function selectOnnxExport(files: HubFile[]): HubFile[] {
  return files.filter(({ path }) => {
    const parts = path.split('/');
    if (parts.length === 1) return path === 'model_index.json';
    if (parts.length !== 2) return false;
    const [folder, name] = parts;
    return (ONNX_PARTS.has(folder) && ONNX_FILE.test(name)) || (CONFIG_PARTS.has(folder) && CONFIG_FILE.test(name));
  });
}
