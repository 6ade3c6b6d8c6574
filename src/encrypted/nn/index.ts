/** Encrypted models: layer specs, tfjs-layers conversion, the encrypted forward pass, private prediction (docs/encrypted-ml.md, "Models"). */
export { LayerError, modelShapes, outputShape, paramShapes, outSize, checkLayer, sourceIndex, LAYER_KINDS, type LayerSpec, type LayerKind, type ModelSpec, type Padding } from './spec.js';
export { convertModel, SUPPORTED_LAYERS, type ConvertedModel } from './convert.js';
export { forwardLayer, type Forward } from './forward.js';
export { saveModel, loadModel, modelToJSON, modelFromJSON } from './io.js';
export { encryptModel, inferencePlan, EncryptedModel, type EncryptModelOptions, type PredictForOptions, type ClassOptions } from './model.js';
export { argmaxByPairs } from './argmax.js';
export { backwardLayer, lossGradient, type Backward, type BackwardOptions, type LossGradientOptions } from './backward.js';
export { sgd, amsgrad, amsgradIterations, flatConcat, flatSplit, type EncryptedOptimizer, type AmsgradOptions, type StepInfo } from './optimizers.js';
export { privateTrain, trainStep, evaluatePrivately, poolBeforeRelu, trainingLayers, shuffled, type PrivateTrainOptions, type PrivateTrainResult, type PrivateDataset, type StepReport, type EpochReport } from './train.js';
export { poolBeforeActivation } from './spec.js';
