/** Model families the catalog knows. Illustrious and Pony are SDXL fine-tunes: same architecture, other prompt habits. */
export const MODEL_FAMILIES = ['SD15', 'SDXL', 'ILLUSTRIOUS', 'PONY', 'FLUX'] as const;
export type ModelFamily = (typeof MODEL_FAMILIES)[number];

/** The network layout a family runs on; the GPU runtime picks its pipeline from this. */
export type Architecture = 'sd1' | 'sdxl' | 'flux';

export const FAMILY_ARCHITECTURE: Record<ModelFamily, Architecture> = {
  SD15: 'sd1',
  SDXL: 'sdxl',
  ILLUSTRIOUS: 'sdxl',
  PONY: 'sdxl',
  FLUX: 'flux',
};

/**
 * Whether a family's models use a negative prompt. FLUX.1 is guidance-distilled: one transformer
 * call per step and no classifier-free guidance, so there is no unconditional branch for a
 * negative prompt to steer; the API refuses one and the Studio hides the field.
 */
export const takesNegativePrompt = (family: ModelFamily): boolean => FAMILY_ARCHITECTURE[family] !== 'flux';
