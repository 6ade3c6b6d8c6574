/**
 * fedcrypt/dp: differential privacy for federated learning (docs/dp.md).
 *
 * - Accounting: exact for unsampled Gaussian compositions (μ-GDP), the privacy loss distribution of
 *   Poisson-subsampled Gaussians, and an RDP accountant over events a user composes (Gaussian,
 *   Poisson-sampled, sampled without replacement, self-composed, composed,
 *   the distributed discrete Gaussian and Skellam), ε from δ and δ from ε
 *   with the order achieving them; DP-FedAvg helpers.
 * - Randomness: `CryptoRandom` (node:crypto's CSPRNG, or AES-CTR under a
 *   chosen key for reproducible runs) is the only source any mechanism
 *   accepts; exact discrete Gaussian, Poisson and Skellam samplers; Gaussian
 *   noise as exact lattice noise.
 * - Mechanisms as aggregation role sets wrapping any secure protocol:
 *   central DP-FedAvg (`dpGaussianFixed`, `dpGaussianAdaptive`; noise at
 *   SERVER or secret-shared by each aggregator) and distributed DP
 *   (`distributedDp`: rotation, clip, stochastic rounding, the clients'
 *   discrete noise, modular clipping, a secure sum over 2^bits).
 * - Client sampling: Poisson (the accountant's assumption) and fixed size.
 */
export * from './events.js';
export { RdpAccountant, DP_ACCOUNTING_DEFAULT_ORDERS, TF_PRIVACY_ORDERS, effectiveNoiseMultiplier, type NeighboringRelation, type SamplingScheme, type RdpAccountantOptions, type RdpAccountantState } from './rdp-accountant.js';
export { PrivacyAccountant, type AccountantKind, type EpsilonReading, type PrivacyAccountantOptions } from './accountant.js';
export { gaussianDelta, gaussianEpsilon, gdpMu, gdpMuSquared } from './gdp.js';
export { subsampledGaussianPld, composePld, selfComposePld, identityPld, pldDelta, pldEpsilon, type Pld, type PldOptions } from './pld.js';
export { epsilonFromRdp, deltaFromRdp, epsilonFromRdpClassic } from './rdp-conversion.js';
export { rdpPoissonGaussian, rdpSampledWorGaussian } from './rdp-subsampled.js';
export { rdpDistributedDiscreteGaussian, rdpSkellam, ddgTau, roundedL2NormBound, integerL1NormBound } from './rdp-distributed.js';
export { dpFedAvgEpsilon, noiseMultiplierFor, type DpFedAvgAccountingInput, type DpFedAvgEpsilon, type NoiseMultiplierResult } from './dpfedavg-accounting.js';

export { CryptoRandom, assertCryptoRandom, NotCryptoRandomError } from './random.js';
export { discreteGaussian, discreteGaussianOne, type Sigma2 } from './discrete-gaussian.js';
export { poisson, poissonOne, skellam, skellamOne } from './poisson.js';
export { gaussian, addGaussianNoise, gaussianGrid } from './gaussian.js';
export { noiseSourceFrom, observedNoiseSource, type NoiseSource } from './noise.js';
export { exactNoise, type ExactNoiseSource, type SamplerBackend } from './exact-noise.js';
export { discreteGaussianWasm, poissonWasm, skellamWasm, dpSamplersWasmAvailable } from './wasm-samplers.js';

export { wrapRoles, checkDpPolicy, type DpPolicy, type DpRolePolicy, type DpStatement, type RoleTransform, type WrapOptions, type WrappedRoles, type InnerShape } from './wrap.js';
export { distributedDp, ddpEvent, roundEpsilon, encodeUpdate, decodeSum, type DistributedDp, type DistributedDpOptions, type EncodedUpdate } from './distributed.js';
export { ddpParams, kStddevs, type DdpMechanism, type DdpParams, type DdpInputs } from './ddp-params.js';
export { rotate, unrotate, rotationSeed, paddedDim, ROTATIONS, type RotationKind } from './rotation.js';

export { dpGaussianFixed, dpGaussianAdaptive, encodingStepOf, BELOW_LEAF_PATH, type CentralDpRoles, type CentralDpWrapOptions, type CentralDpRound, type ClipState } from './central.js';
export * from './central-params.js';
export { clipByGlobalNorm, globalL2Norm, type FloatLeaf, type ClipResult } from './central-clip.js';
export { ADAPTIVE_DEFAULTS, ADAPTIVE_NOISE_RULE, AdaptiveNoiseError, adaptiveNoiseParams, belowIndicator, quantileStep } from './quantile.js';
export { poissonSample, fixedSizeSample, sampleClients, type ClientSample, type ClientSampling, type SamplingKind } from './sampling.js';
