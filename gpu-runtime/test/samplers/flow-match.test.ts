import { describe, expect, it } from 'vitest';
import { DEV_FLOW_CONFIG, flowMatchEuler, flowMatchSigmas, flowShiftMu, parseFlowMatchConfig, SCHNELL_FLOW_CONFIG } from '../../src/samplers/index.js';

/**
 * Reference values: diffusers' formulas, computed in Python float64 —
 * FluxPipeline: sigmas = np.linspace(1.0, 1/n, n); mu = calculate_shift(image_seq_len, 256, 4096, 0.5, 1.15)
 * FlowMatchEulerDiscreteScheduler.set_timesteps: dynamic shift σ' = e^μ / (e^μ + (1/σ − 1)); fixed shift
 * σ' = s·σ / (1 + (s − 1)·σ); then a final 0. (diffusers stores them as float32, hence 6 digits.)
 */
describe('flow-matching schedule', () => {
  it('FLUX.1 [schnell], 4 steps: no shift, 1, 0.75, 0.5, 0.25, 0', () => {
    expect([...flowMatchSigmas(SCHNELL_FLOW_CONFIG, 4, 4096)]).toEqual([1, 0.75, 0.5, 0.25, 0]);
  });

  it('μ runs from 0.5 at 256 image tokens to 1.15 at 4096, linearly', () => {
    expect(flowShiftMu(DEV_FLOW_CONFIG, 256)).toBeCloseTo(0.5, 12);
    expect(flowShiftMu(DEV_FLOW_CONFIG, 1024)).toBeCloseTo(0.63, 12); // 512×512 pixels
    expect(flowShiftMu(DEV_FLOW_CONFIG, 4096)).toBeCloseTo(1.15, 12); // 1024×1024 pixels
  });

  it('FLUX.1 [dev], 28 steps at 1024×1024 (4096 tokens, μ = 1.15)', () => {
    const sigmas = flowMatchSigmas(DEV_FLOW_CONFIG, 28, 4096);
    expect(sigmas.length).toBe(29);
    const expected: [number, number][] = [[0, 1], [1, 0.98840865], [2, 0.97622247], [25, 0.27482798], [26, 0.19545459], [27, 0.10472089], [28, 0]];
    for (const [i, value] of expected) expect(sigmas[i]).toBeCloseTo(value, 6);
  });

  it('FLUX.1 [dev], 20 steps at 512×512 (1024 tokens, μ = 0.63)', () => {
    const sigmas = flowMatchSigmas(DEV_FLOW_CONFIG, 20, 1024);
    expect(sigmas[1]).toBeCloseTo(0.97273317, 6);
    expect(sigmas[19]).toBeCloseTo(0.08993417, 6);
  });

  it('a fixed shift s equals the dynamic one at μ = ln s', () => {
    const fixed = flowMatchSigmas(parseFlowMatchConfig({ shift: 3 }), 10, 4096);
    const dynamic = flowMatchSigmas(parseFlowMatchConfig({ use_dynamic_shifting: true, base_shift: Math.log(3), max_shift: Math.log(3) }), 10, 4096);
    fixed.forEach((sigma, i) => expect(sigma).toBeCloseTo(dynamic[i], 12));
  });

  it('refuses a broken config with the field named', () => {
    expect(() => parseFlowMatchConfig({ shift: -1 })).toThrow(/shift/);
    expect(() => parseFlowMatchConfig({ base_image_seq_len: 4096, max_image_seq_len: 256 })).toThrow(/max_image_seq_len/);
  });
});

describe('flow-matching Euler', () => {
  it('follows a constant velocity exactly: from ε at σ = 1 to x0 at σ = 0, with x0 = x − σ·v at every step', async () => {
    const x0 = Float32Array.of(0.5, -1, 2);
    const noise = Float32Array.of(1, 0.25, -0.5);
    const velocity = noise.map((n, i) => n - x0[i]);
    const seen: number[][] = [];
    const calls: number[] = [];
    const result = await flowMatchEuler(
      async (_x, sigma) => {
        calls.push(sigma);
        return velocity;
      },
      noise,
      { sigmas: flowMatchSigmas(DEV_FLOW_CONFIG, 5, 1000), onStep: (_i, _x, denoised) => void seen.push([...denoised]) },
    );
    result.forEach((v, i) => expect(v).toBeCloseTo(x0[i], 6));
    expect(calls.length).toBe(5); // one model call per step
    for (const denoised of seen) denoised.forEach((v, i) => expect(v).toBeCloseTo(x0[i], 6));
  });

  it('takes x_next = x + (σ_next − σ)·v', async () => {
    const result = await flowMatchEuler(async (x) => x.map(() => 2), Float32Array.of(1), { sigmas: [1, 0.75] });
    expect(result[0]).toBeCloseTo(1 - 0.25 * 2, 7);
  });
});
