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
