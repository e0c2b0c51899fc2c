/// <reference path="../pkg/kernels.wasm.d.ts" preserve="true" />
/**
 * cnn-wasm: train and run small convolutional networks in WebAssembly.
 *
 * ```ts
 * import { initBackend, sequential, conv2d, maxPooling2d, flatten, dense, sgd } from 'cnn-wasm';
 * await initBackend();                        // SIMD128 where available
 * const model = sequential([conv2d({ filters: 8, kernelSize: 3, activation: 'relu' }),
 *   maxPooling2d(), flatten(), dense({ units: 10 })], { inputShape: [1, 28, 28] });
 * await model.fit(train, { optimizer: sgd({ learningRate: 0.01, momentum: 0.9 }), epochs: 3 });
 * ```
 */
export { initBackend, getBackend, setBackend, simdSupported, instantiateBackend, backendFromExports, defaultWasmUrl, Backend } from './backend/load.js';
export type { BackendName, BackendChoice, BackendOptions, WasmSource } from './backend/load.js';
export { F32Buffer, I32Buffer, Heap } from './backend/memory.js';
export type { KernelExports } from './backend/exports.js';
export { gemm } from './kernels/gemm.js';
export type { GemmParams } from './kernels/gemm.js';
export { conv2d, dense, maxPooling2d, averagePooling2d, batchNormalization, relu, flatten, dropout, zeroPadding2d, layerFromConfig } from './layers/index.js';
export { Conv2D, Dense, MaxPooling2D, AveragePooling2D, BatchNormalization, ReLU, Flatten, Dropout, ZeroPadding2D } from './layers/index.js';
export type { Conv2DOptions } from './layers/conv2d.js';
export type { DenseOptions } from './layers/dense.js';
export type { Pooling2DOptions } from './layers/pooling.js';
export type { BatchNormOptions } from './layers/batchnorm.js';
export { Layer } from './layers/layer.js';
export type { Param, Shape, Activation } from './layers/layer.js';
export type { Padding } from './kernels/conv.js';
export { normal, constant, uniform } from './init.js';
export type { Initializer } from './init.js';
export { sequential, Sequential, MNIST_NORMALIZATION } from './model.js';
export type { WeightTensor, WeightTensorInput, Images, PredictInput, Dataset, Normalization, SequentialOptions, FitOptions, History, EpochLogs, BatchLogs, Callbacks, Evaluation, LayerStats } from './model.js';
export { sgd, adam, Sgd, Adam, Optimizer, optimizerFromConfig } from './optim/optimizer.js';
export type { SgdOptions, AdamOptions, OptimizerConfig } from './optim/optimizer.js';
export { constantLr, stepDecay, exponentialDecay, learningRateAt } from './optim/schedule.js';
export { reduceOnPlateau, type PlateauOptions, type PlateauSchedule, type Monitored } from './optim/plateau.js';
export { earlyStopping, type EarlyStopping, type EarlyStoppingOptions } from './train/callbacks.js';
export { activePool, type TrainingContext } from './train/fit.js';
export type { LearningRate } from './optim/schedule.js';
export { gradientCheck } from './gradcheck.js';
export type { GradientCheckResult, GradientCheckOptions, TensorCheck } from './gradcheck.js';
export { createPreset, presetRecipe, PRESET_NAMES, presetDescription } from './models/presets.js';
export type { Recipe } from './models/presets.js';
export { parseArchitecture, createFromArchitecture, type Architecture } from './models/architecture.js';
export { readModelHeader, ModelFileError } from './io/modelfile.js';
export type { ModelHeader } from './io/modelfile.js';
export { serializeModel, deserializeModel, loadModel } from './model-file.js';
export type { LoadedModel, LoadModelOptions } from './model-file.js';
export { listModels, deleteModel, downloadBytes, type StoredModelInfo } from './io/browser-storage.js';
export { loadPictures, pixelsOf, type PathedFile, type PictureSource, type PicturesByClass, type PicturesInput, type PicturesOptions } from './data/pictures.js';
export type { ImageFolder, FolderSplit, PictureOptions } from './data/collect.js';
export { Rng } from './rng.js';
export { VERSION } from './version.js';
export { toMnist } from './image/mnist.js';
export { centreCrop, fitOf, prepareImage, prepareImages, resizeTarget, rgbaToGray, resizeChannel, type Fit, type ImageLike } from './image/prepare.js';
export type { Gray } from './image/mnist.js';
export { parseIdxBytes, pairImagesLabels, encodeIdx, IdxError } from './data/idx.js';
export type { IdxArray, LabelledImages } from './data/idx.js';
export { createInferencePool, InferencePool, type InferencePoolOptions } from './parallel/infer.js';
export { availableCores, WorkerError, type CreateWorker, type WorkerKind } from './parallel/group.js';
export { createPredictor, Predictor, QueueFullError, PredictorClosedError, type PredictorOptions, type Prediction, type PredictorStats } from './serve/predictor.js';
export { checkImages, TrainingDivergedError } from './model.js';
export { importOnnx, type ImportOnnxOptions } from './interop/onnx-import.js';
export { toOnnx, ONNX_OPSET } from './interop/onnx-export.js';
export { fetchIdx, fetchSplits, loadMnistSample, type FetchIdxOptions } from './data/fetch.js';
