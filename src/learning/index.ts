/** fedcrypt/learning: federated learning on tfjs (FedSGD, FedAvg), MNIST, models, run reports. */
export { tf, initTf } from './tf.js';
export * from './mnist.js';
export * from './models.js';
export * from './optimizers.js';
export * from './aggregator.js';
export * from './secure-aggregators.js';
export { rolesAggregator, type RolesAggregatorOptions } from './roles-aggregator.js';
export { DP_MECHANISMS, DP_DEFAULTS, checkDpOptions, dpSetup, dpSeedKey, type DpTrainOptions, type DpMechanismName, type DpRoundRecord, type DpRunMetrics, type DpSetup, type DpSetupInput } from './dp-train.js';
export { renderDpSection, renderAccuracyEpsilonPage, dpSummaryRows, fmtEpsilon, type AccuracyEpsilonPoint } from './dp-report.js';
export * from './roles.js';
export * from './fedsgd.js';
export * from './fedavg.js';
export * from './report.js';
export * from './train.js';
export { layersModelFromSpec } from './spec-model.js';
