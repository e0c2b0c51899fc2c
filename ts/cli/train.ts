/** `cnn-wasm train`: train a preset on a data set, with progress, validation, a final test and a saved model. */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { initBackend, type Backend } from '../backend/load.js';
import { parseAugment } from '../data/augment.js';
import { fitOf, FITS, type Fit } from '../image/prepare.js';
import { DATASET_NAMES } from '../data/datasets.js';
import { argmax } from '../engine/argmax.js';
import { checkWritable, writeFileAtomic } from '../io/files.js';
import { ModelFileError } from '../io/modelfile.js';
import { loadModel, saveModel } from '../model-file-node.js';
import { TrainingDivergedError, type Dataset, type Evaluation, type Sequential } from '../model.js';
import { createFromArchitecture } from '../models/architecture.js';
import { createPreset, PRESET_NAMES, presetRecipe, type Recipe } from '../models/presets.js';
import { optimizerFromConfig, type Optimizer, type OptimizerConfig } from '../optim/optimizer.js';
import { earlyStopping } from '../train/callbacks.js';
import { usefulWorkers, type Callbacks, type EpochLogs } from '../train/fit.js';
import { asDataset, checkImageSize, cliDataset, FileProblem, makeOut, readArchitectureFile, type Out } from './common.js';
import { classReport } from './confusion.js';
import { ExitWith, parseBackend, parseChoice, parseIntFlag, parseNumberFlag, parseWorkersFlag, UsageError } from './options.js';
import { renderReport, type Mistake } from './report.js';

interface TrainFlags {
  model: string; dataset: string; resume?: string; epochs?: string; batchSize?: string; lr?: string; momentum?: string; weightDecay?: string;
  optimizer?: string; backend: string; workers: string; seed: string; limit?: string; valSize?: string; out?: string; json?: boolean; progress: boolean;
  earlyStop?: string; saveBest?: boolean; imageSize?: string; channels?: string; fit?: string; strict?: boolean; report?: string; augment?: string;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const fmtInt = (x: number) => Math.round(x).toLocaleString('en-US');

export function register(program: Command): void {
  program
    .command('train')
    .description('train a model (default: lenet5-bn with its seed recipe on MNIST) and save it')
    .option('--model <name|file.json>', `preset: ${PRESET_NAMES.join(' | ')}; or a JSON file of layers (layerFromConfig's configs) and, optionally, optimizer, batchSize, epochs`, 'lenet5-bn')
    .option('--dataset <name|dir>', 'mnist | mnist-sample | fashion-mnist | a directory with the four IDX files | an image folder (a subfolder of PNG/JPEG/PGM files per class, or train/ and test/ holding them)', 'mnist')
    .option('--image-size <n|WxH>', 'image folders: the size images are resized to (default: the first image\'s)')
    .option('--channels <1|3>', 'image folders: gray or RGB (default: 3 if any training image has colour)')
    .option('--fit <resize|crop|digit>', 'image folders: resize whole images (default; a picture of another shape is squeezed), crop each to its largest centred part of --image-size\'s shape and resize that, or centre digits as MNIST does (28x28 gray)')
    .option('--strict', 'image folders: a file that cannot be read ends the run (default: it is named and skipped)')
    .option('--epochs <n>', 'epochs (default: the preset recipe)')
    .option('--batch-size <n>', 'batch size (default: the preset recipe)')
    .option('--lr <x>', 'initial learning rate (keeps the recipe schedule shape)')
    .option('--momentum <x>', 'SGD momentum')
    .option('--weight-decay <x>', 'weight decay')
    .option('--optimizer <name>', 'sgd | adam (default: the preset recipe)')
    .option('--backend <name>', 'auto (relaxed, else simd, else scalar: what the engine runs) | relaxed | simd | scalar', 'auto')
    .option('--workers <n>', 'worker threads per step: a number or auto (the cores this machine reports); any count trains to the same bits', '1')
    .option('--seed <n>', 'seed of initialisation, shuffling and dropout', '1')
    .option('--limit <n>', 'train on the first n training images only')
    .option('--val-size <n>', 'hold out n training images for validation (default: 5,000 on full data sets, 0 on the sample; image folders: a count or a fraction, stratified by class, 10% without a test/ folder)')
    .option('--resume <file>', 'continue training a saved model with its optimizer state (e.g. a Ctrl-C checkpoint)')
    .option('--out <file>', 'where to save the model (default: ./<model>-<dataset>.cnnw)')
    .option('--early-stop <n>', 'stop when the validation loss has not improved for n epochs, and keep the best epoch\'s weights (needs a validation split)')
    .option('--save-best', 'write the model to --out after each epoch that improves the validation loss (atomically; never replaced by a worse one), and end with the best epoch\'s weights')
    .option('--augment <list>', 'random changes to each training image, e.g. shift=2,flip,rotate=10,scale=0.1,brightness=0.2,contrast=0.2 (same bits for any --workers)')
    .option('--report <file.html>', 'write one self-contained page: loss and accuracy curves, confusion matrix, per-class accuracy, the most confident mistakes')
    .option('--json', 'print exactly one JSON line with the results')
    .option('--no-progress', 'no progress bar (one line per epoch)')
    .action(async (f: TrainFlags, cmd: Command) => {
      const out = makeOut(!!f.json);
      // Every flag is checked before anything is loaded, downloaded or trained.
      const backendChoice = parseBackend(f.backend);
      let seed = parseIntFlag('--seed', f.seed, 0, 2 ** 31);
      if (f.resume) {
        for (const [flag, v] of [['--lr', f.lr], ['--momentum', f.momentum], ['--weight-decay', f.weightDecay], ['--optimizer', f.optimizer]] as const) {
          if (v !== undefined) throw new UsageError(`${flag} cannot be combined with --resume: the optimizer and its state come from the checkpoint`);
        }
      }
      // A preset's name, or an architecture file (a name ending in .json).
      const archFile = !f.resume && /\.json$/i.test(f.model) ? f.model : null;
      const arch = archFile ? readArchitectureFile(archFile) : null;
      const flagModel = f.resume ? null : archFile ? basename(archFile).replace(/\.json$/i, '') : parseChoice('--model', f.model, PRESET_NAMES);
      const optFlag = f.optimizer !== undefined ? parseChoice('--optimizer', f.optimizer, ['sgd', 'adam'] as const) : undefined;
      const lrFlag = f.lr !== undefined ? parseNumberFlag('--lr', f.lr, 0, 10) : undefined;
      const momentumFlag = f.momentum !== undefined ? parseNumberFlag('--momentum', f.momentum, 0, 0.999999) : undefined;
      const wdFlag = f.weightDecay !== undefined ? parseNumberFlag('--weight-decay', f.weightDecay, 0, 1) : undefined;
      const epochsFlag = f.epochs !== undefined ? parseIntFlag('--epochs', f.epochs, 1, 10_000) : undefined;
      const batchFlag = f.batchSize !== undefined ? parseIntFlag('--batch-size', f.batchSize, 1, 65_536) : undefined;
      let limitFlag = f.limit !== undefined ? parseIntFlag('--limit', f.limit, 1) : undefined;
      let { fraction: valFraction, count: valFlag } = parseValSize(f.valSize);
      const folder = {
        imageSize: f.imageSize === undefined ? undefined : parseImageSize(f.imageSize),
        channels: f.channels === undefined ? undefined : (Number(parseChoice('--channels', f.channels, ['1', '3'] as const)) as 1 | 3),
        fit: f.fit === undefined ? undefined : parseChoice('--fit', f.fit, FITS),
        strict: !!f.strict, seed, valSize: valFraction ?? valFlag,
      };
      const workers = await parseWorkersFlag(f.workers);
      let augment;
      try {
        augment = f.augment === undefined ? undefined : parseAugment(f.augment);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const patienceFlag = f.earlyStop !== undefined ? parseIntFlag('--early-stop', f.earlyStop, 0, 10_000) : undefined;
      if (f.dataset !== undefined && !(DATASET_NAMES as readonly string[]).includes(f.dataset) && !looksLikeDirectory(f.dataset)) {
        throw new UsageError(`unknown dataset '${f.dataset}' (valid: ${DATASET_NAMES.join(', ')}, or a directory holding train-/t10k- images and labels IDX files)`);
      }

      const be = await initBackend({ backend: backendChoice });
      const resumed = f.resume ? resumeFrom(f.resume, be) : null;
      let batchSizeRun = batchFlag;
      if (resumed) {
        // An image folder is read again as the checkpoint was trained: its input size, channels and fit, unless flags say otherwise.
        const [c, h, w] = resumed.model.inputShape;
        folder.imageSize ??= [h, w];
        folder.channels ??= c === 3 ? 3 : 1;
        folder.fit ??= resumed.fit;
        // The run goes on as it was: its seed (so its hold-out), --val-size and batch size, unless flags say otherwise.
        const run = resumed.run;
        if (cmd.getOptionValueSource('seed') === 'default' && run.seed !== undefined) folder.seed = seed = run.seed;
        if (f.valSize === undefined && run.valSize !== undefined) {
          f.valSize = run.valSize;
          ({ fraction: valFraction, count: valFlag } = parseValSize(run.valSize));
          folder.valSize = valFraction ?? valFlag;
        }
        batchSizeRun ??= run.batchSize;
        limitFlag ??= run.limit;
        if (f.augment === undefined && run.augment !== undefined) {
          f.augment = run.augment;
          augment = parseAugment(run.augment);
        }
      }
      const modelName = resumed ? resumed.preset : flagModel!;
      const datasetSpec = resumed && cmd.getOptionValueSource('dataset') === 'default' ? resumed.dataset : f.dataset;
      // Where the model goes is checked now, not after the training it would lose.
      const outFor = (dataName: string) => resolve(f.out ?? `${modelName}-${dataName.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+/, '')}.cnnw`);
      const checkOut = (path: string, flag = '--out') => {
        try {
          checkWritable(path, flag);
        } catch (e) {
          resumed?.model.dispose();
          resumed?.optimizer.dispose();
          throw new FileProblem((e as Error).message);
        }
      };
      checkOut(outFor(datasetSpec));
      const reportPath = f.report === undefined ? null : resolve(f.report);
      if (reportPath) checkOut(reportPath, '--report');
      const data = await cliDataset(datasetSpec, out, { folder });
      if (data.shape) {
        if (data.skipped?.length) process.stderr.write(`warning: ${data.skipped.length} file${data.skipped.length > 1 ? 's' : ''} skipped (--strict makes them end the run), e.g. ${data.skipped[0].file}: ${data.skipped[0].reason}\n`);
        const ps = data.pictureSizes, span = (r: [number, number]) => (r[0] === r[1] ? `${r[0]}` : `${r[0]} to ${r[1]}`);
        if (ps && folder.imageSize === undefined && folder.fit !== 'digit' && (ps.height[0] !== ps.height[1] || ps.width[0] !== ps.width[1])) {
          process.stderr.write(`note: the pictures are ${span(ps.width)} pixels wide and ${span(ps.height)} high; all are fitted to ${data.shape[2]}x${data.shape[1]} (width x height), the first one's size (choose with --image-size)\n`);
        }
      } else {
        if (valFraction !== undefined) throw new UsageError(`invalid value '${f.valSize}' for --val-size (a count of images; fractions are for image folders)`);
        for (const [flag, v] of [['--image-size', f.imageSize], ['--channels', f.channels], ['--fit', f.fit]] as const) if (v !== undefined) throw new UsageError(`${flag} applies to image folders; ${data.name} is not one`);
        checkImageSize(data);
      }
      const outPath = outFor(data.name);
      if (outPath !== outFor(datasetSpec)) checkOut(outPath);
      const recipe = arch?.recipe ?? resumed?.architecture?.recipe ?? presetRecipe(modelName);
      // A model of the user's own architecture records its recipe, so that --resume can go on with it.
      const ownRecipe = arch || resumed?.architecture ? { recipe } : {};
      const shaped = { backend: be, seed, ...(data.shape ? { inputShape: data.shape, classes: data.classNames!.length } : {}) };
      let model: Sequential;
      try {
        model = resumed ? resumed.model : arch ? createFromArchitecture(arch, archFile!, shaped) : createPreset(modelName, shaped).model;
      } catch (e) {
        if (arch) throw new FileProblem((e as Error).message);
        throw e;
      }
      if (resumed && data.shape && resumed.model.inputShape.join('x') !== data.shape.join('x')) {
        throw new FileProblem(`${f.resume} takes ${resumed.model.inputShape.join('x')} inputs; ${data.name} holds ${data.shape.join('x')} images (--image-size, --channels)`);
      }
      const doneEpochs = resumed?.epochs ?? 0;
      // An image folder's model normalises each channel by the training images' own mean and std.
      if (!resumed && data.normalization) model.setNormalization(data.normalization);

      // Optimiser: the recipe, with flags overriding (or the checkpoint's, with its state: --resume refuses those flags).
      const opt = optimizerConfig(resumed ? resumed.optimizer.config() : recipe.optimizer, { kind: optFlag, lr: lrFlag, momentum: momentumFlag, weightDecay: wdFlag });
      const optimizer = resumed ? resumed.optimizer : optimizerFromConfig(opt);
      const epochs = epochsFlag ?? Math.max(1, recipe.epochs - doneEpochs);
      const batchSize = batchSizeRun ?? recipe.batchSize;
      // What --resume needs to go on with the same run (the flags a user gave; the defaults need no saying).
      const runInfo = { seed, ...(f.valSize !== undefined ? { valSize: f.valSize } : {}), batchSize, ...(limitFlag !== undefined ? { limit: limitFlag } : {}), ...(f.augment !== undefined ? { augment: f.augment } : {}) };

      // Splits: optional limit, validation hold-out from the end of the training set.
      let trainCount = data.train.count;
      if (limitFlag !== undefined) trainCount = Math.min(trainCount, limitFlag);
      const defaultVal = data.train.count >= 50_000 ? 5000 : 0;
      if (!data.shape && valFlag !== undefined && valFlag > trainCount - 1) throw new UsageError(`invalid value '${f.valSize}' for --val-size (at most ${trainCount - 1}: ${fmtInt(trainCount)} training images)`);
      // Image folders were split by the loader (stratified); IDX sets hold out the end of the training images.
      const valSize = data.shape ? 0 : valFlag ?? Math.min(defaultVal, Math.floor(trainCount / 10));
      const train = asDataset(data.train, 0, trainCount - valSize);
      const val = data.shape ? (data.val ? asDataset(data.val) : null) : valSize > 0 ? asDataset(data.train, trainCount - valSize, valSize) : null;
      const test = asDataset(data.test);
      if ((patienceFlag !== undefined || f.saveBest) && !val) {
        model.dispose();
        throw new UsageError(`${patienceFlag !== undefined ? '--early-stop' : '--save-best'} watches the validation loss: hold out a validation split with --val-size N (the test images are not used to choose a model)`);
      }

      if (resumed) out.info(`resuming ${f.resume}: ${doneEpochs} epoch(s) and ${optimizer.iterations} steps done; ${epochs} more epoch(s)`);
      out.info(`training ${modelName} on ${data.name} (${data.source}): ${fmtInt(train.count)} train, ${val ? `${fmtInt(val.count)} validation, ` : ''}${fmtInt(test.count)} test images`);
      const used = usefulWorkers(workers, batchSize, train.count);
      out.info(`backend ${be.name}${used > 1 ? ` on ${used} worker threads` : ''}, ${epochs} epoch(s), batch ${batchSize}, ${opt.kind} ${JSON.stringify(opt.learningRate)}${opt.kind === 'sgd' ? ` momentum ${opt.momentum}` : ''}${opt.weightDecay ? ` weight decay ${opt.weightDecay}` : ''}, seed ${seed}${f.augment !== undefined ? `, augment ${f.augment}` : ''}`);

      // Ctrl-C: stop after the current step and save a checkpoint; a second Ctrl-C exits at once.
      let interrupted = false;
      const onSigint = () => {
        if (interrupted) process.exit(130);
        interrupted = true;
        model.stopTraining = true;
        process.stderr.write('\ninterrupted: finishing the current step and saving a checkpoint (Ctrl-C again to quit now)\n');
      };
      process.on('SIGINT', onSigint);

      const t0 = performance.now();
      // --early-stop and --save-best: Keras's EarlyStopping on the validation loss; the best epoch's weights are kept.
      // A resumed run starts from the checkpoint's weights: an epoch must beat their validation loss to be saved or kept.
      const startLoss = resumed && val && (patienceFlag !== undefined || f.saveBest) ? model.evaluate(val, { batchSize: Math.max(batchSize, 256) }).loss : undefined;
      if (startLoss !== undefined) out.info(`the checkpoint's validation loss is ${startLoss.toFixed(4)}: an epoch must beat it to be saved or kept`);
      const watch = patienceFlag !== undefined || f.saveBest
        ? earlyStopping({ monitor: 'valLoss', patience: patienceFlag ?? Number.MAX_SAFE_INTEGER, restoreBestWeights: true, ...(startLoss !== undefined && Number.isFinite(startLoss) ? { initialValue: startLoss } : {}) })
        : null;
      const saveBest = f.saveBest ? {
        onEpochEnd: (l: EpochLogs) => {
          if (watch!.bestEpoch !== l.epoch) return; // not better than an epoch already written
          const metadata = { preset: modelName, ...ownRecipe, run: runInfo, dataset: data.name, epochs: doneEpochs + l.epoch + 1, steps: optimizer.iterations, valLoss: l.valLoss, valAccuracy: l.valAccuracy, best: true, ...(data.shape ? { fit: folder.fit ?? 'resize' } : {}) };
          saveModel(model, outPath, { optimizer, metadata: { ...metadata, ...(data.classNames ? { classNames: data.classNames } : {}), ...(data.shape ? { fit: folder.fit ?? 'resize' } : {}) } });
          out.info(`  best so far (val loss ${l.valLoss!.toFixed(4)}): saved to ${outPath}`);
        },
      } : null;
      const progress = progressLines({ out, bar: f.progress && process.stderr.isTTY && !out.json, doneEpochs, epochs, batches: Math.ceil(train.count / batchSize), heldOut: val ? 'val' : 'test' });
      const history = await model.fit(train, {
        optimizer, epochs, batchSize, seed: seed + doneEpochs, validationData: val ?? test, workers, augment,
        callbacks: [progress, ...(watch ? [watch] : []), ...(saveBest ? [saveBest] : [])],
      });
      if (watch && watch.stoppedEpoch >= 0) out.info(`early stop after epoch ${doneEpochs + watch.stoppedEpoch + 1}: the validation loss last improved in epoch ${doneEpochs + watch.bestEpoch + 1}${watch.bestEpoch < 0 ? " (the checkpoint's)" : ''}`);
      if (watch && watch.bestEpoch >= 0 && watch.bestEpoch !== history.epochs.length - 1) out.info(`kept the weights of epoch ${doneEpochs + watch.bestEpoch + 1} (best validation loss ${watch.best!.toFixed(4)})`);
      if (watch && watch.bestEpoch < 0 && watch.best !== null && history.epochs.length > 0) out.info(`no epoch beat the checkpoint's validation loss (${watch.best.toFixed(4)}): kept its weights`);
      progress.stop();
      process.off('SIGINT', onSigint);
      const seconds = (performance.now() - t0) / 1000;
      const trainSeconds = history.epochs.reduce((s, e) => s + e.seconds, 0);
      const imagesPerSecond = history.epochs.length ? history.epochs.reduce((s, e) => s + e.imagesPerSecond * e.seconds, 0) / trainSeconds : 0;
      const result = model.evaluate(test);
      if (!Number.isFinite(result.loss)) {
        throw new TrainingDivergedError(`training diverged: the test loss is ${result.loss} after step ${optimizer.iterations}; nothing was saved${existsSync(outPath) ? ` (${outPath} is unchanged)` : ''}`);
      }
      // An interrupted last epoch does not count as done.
      const completed = doneEpochs + history.epochs.length - (interrupted ? 1 : 0);
      // bestEpoch -1: none beat the checkpoint, whose epochs were doneEpochs.
      const best = watch && watch.best !== null ? { bestEpoch: doneEpochs + watch.bestEpoch + 1, bestValLoss: watch.best } : {};
      const metadata = { preset: modelName, ...ownRecipe, run: runInfo, dataset: data.name, epochs: completed, steps: optimizer.iterations, testAccuracy: result.accuracy, testLoss: result.loss, interrupted, ...best };
      saveModel(model, outPath, { optimizer, metadata: { ...metadata, ...(data.classNames ? { classNames: data.classNames } : {}), ...(data.shape ? { fit: folder.fit ?? 'resize' } : {}) } });
      if (interrupted) out.info(`checkpoint saved to ${outPath} after ${history.steps} steps; continue with: cnn-wasm train --resume ${outPath}`);
      if (reportPath) {
        writeFileAtomic(reportPath, new TextEncoder().encode(trainingReport(model, test, history.epochs, result, data.classNames ?? null, [
          `model ${modelName} (${model.inputShape.join('x')} inputs, ${fmtInt(model.trainableCount)} trainable values), saved to ${outPath}`,
          `data ${data.name}: ${fmtInt(train.count)} training, ${val ? `${fmtInt(val.count)} validation, ` : ''}${fmtInt(test.count)} test images`,
          `${history.epochs.length} epoch(s), batch ${batchSize}, ${opt.kind}, seed ${seed}, backend ${be.name}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
        ])));
        out.info(`report written to ${reportPath}`);
      }
      out.info(`test accuracy ${pct(result.accuracy)}, test loss ${result.loss.toFixed(4)} on ${fmtInt(test.count)} images; ${fmtInt(imagesPerSecond)} img/s training; ${seconds.toFixed(1)} s`);
      out.info(`model saved to ${outPath}`);
      if (out.json) {
        console.log(JSON.stringify({
          model: modelName, dataset: data.name, backend: be.name, workers: used, epochs: history.epochs.length, trainImages: train.count,
          testAccuracy: result.accuracy, testLoss: result.loss, imagesPerSecond: Math.round(imagesPerSecond), seconds: +seconds.toFixed(2), modelPath: outPath,
          ...best, ...(watch && watch.stoppedEpoch >= 0 ? { stoppedAfterEpoch: doneEpochs + watch.stoppedEpoch + 1 } : {}),
        }));
      }
      model.dispose();
      optimizer.dispose();
      if (interrupted) throw new ExitWith(130); // scripts can tell a run that stopped early
    });
}

/** The optimiser a run uses: the recipe's (or a checkpoint's), another kind's defaults when --optimizer names another, then --lr, --momentum and --weight-decay. */
function optimizerConfig(base: OptimizerConfig, flags: { kind?: 'sgd' | 'adam'; lr?: number; momentum?: number; weightDecay?: number }): OptimizerConfig {
  let opt = base;
  if (flags.kind !== undefined && flags.kind !== opt.kind) {
    opt = flags.kind === 'adam'
      ? { kind: 'adam', learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: false }
      : { kind: 'sgd', learningRate: 0.01, momentum: 0.9, nesterov: false, weightDecay: 0, weightDecayOn: 'all' };
  }
  if (flags.lr !== undefined) {
    const s = opt.learningRate;
    opt = { ...opt, learningRate: typeof s === 'number' ? flags.lr : { ...s, lr: flags.lr } } as OptimizerConfig; // a schedule keeps its shape
  }
  if (flags.momentum !== undefined) {
    if (opt.kind !== 'sgd') throw new UsageError('--momentum applies to --optimizer sgd');
    opt = { ...opt, momentum: flags.momentum };
  }
  if (flags.weightDecay !== undefined) opt = { ...opt, weightDecay: flags.weightDecay } as OptimizerConfig;
  return opt;
}

/**
 * What a run shows while it trains: on a terminal a bar per epoch (else a line
 * every 10 s), and a line at the end of each epoch; epochs are counted on from
 * a checkpoint's. `stop()` ends a bar an interrupted epoch left open.
 */
function progressLines(o: { out: Out; bar: boolean; doneEpochs: number; epochs: number; batches: number; heldOut: 'val' | 'test' }): Callbacks & { stop(): void } {
  let bar: cliProgress.SingleBar | null = null, lastLine = 0;
  const { out, doneEpochs, epochs } = o;
  return {
    onEpochBegin: (epoch) => {
      if (!o.bar) return;
      bar = new cliProgress.SingleBar({
        format: `epoch ${doneEpochs + epoch + 1}/${doneEpochs + epochs} |{bar}| {percentage}% | {value}/{total} | loss {loss} acc {acc} | {ips} img/s | ETA {eta_formatted}`,
        stream: process.stderr, hideCursor: true, etaBuffer: 50,
      }, cliProgress.Presets.shades_classic);
      bar.start(o.batches, 0, { loss: '-', acc: '-', ips: '-' });
    },
    onBatchEnd: (b) => {
      if (bar) bar.update(b.batch + 1, { loss: b.loss.toFixed(4), acc: pct(b.accuracy), ips: fmtInt(b.imagesPerSecond) });
      else if (!out.json && performance.now() - lastLine > 10_000) {
        lastLine = performance.now();
        out.info(`  epoch ${doneEpochs + b.epoch + 1} step ${b.batch + 1}/${b.batches}: loss ${b.loss.toFixed(4)}, ${fmtInt(b.imagesPerSecond)} img/s`);
      }
    },
    onEpochEnd: (l) => {
      bar?.stop();
      bar = null;
      out.info(`epoch ${doneEpochs + l.epoch + 1}/${doneEpochs + epochs}: loss ${l.loss.toFixed(4)}, acc ${pct(l.accuracy)}, ${o.heldOut} loss ${l.valLoss!.toFixed(4)}, ${o.heldOut} acc ${pct(l.valAccuracy!)}, ${fmtInt(l.imagesPerSecond)} img/s, ${l.seconds.toFixed(1)} s`);
    },
    onWarning: (w) => process.stderr.write(`warning: ${w}\n`),
    stop: () => {
      bar?.stop();
      bar = null;
    },
  };
}

/** Whether a --dataset value names a directory rather than a data set. */
function looksLikeDirectory(spec: string): boolean {
  return spec.includes('/') || spec.includes('\\') || spec.startsWith('.') || existsSync(spec);
}

/** Loads a checkpoint for --resume: model, optimizer with state, and what it was trained on. */
function resumeFrom(path: string, be: Backend): {
  model: Sequential; optimizer: Optimizer; preset: string; dataset: string; epochs: number; architecture: { recipe: Recipe } | null; fit: Fit | undefined;
  run: RunRecord;
} {
  let loaded;
  try {
    loaded = loadModel(path, { backend: be });
  } catch (e) {
    if (e instanceof ModelFileError) throw new FileProblem(e.message);
    throw e;
  }
  const { model, optimizer, metadata } = loaded;
  const preset = metadata.preset;
  // A preset's checkpoint names its preset; one of a user's architecture (--model arch.json) carries its recipe.
  const recipe = metadata.recipe as Recipe | undefined;
  const ownArchitecture = typeof recipe === 'object' && recipe !== null && typeof recipe.batchSize === 'number' && typeof recipe.epochs === 'number' && typeof recipe.optimizer === 'object';
  if (!optimizer || typeof preset !== 'string' || (!PRESET_NAMES.includes(preset) && !ownArchitecture)) {
    model.dispose();
    optimizer?.dispose();
    throw new FileProblem(`${path}: cannot resume: ${optimizer ? 'it does not say which preset or architecture it was trained as' : 'it holds no optimizer state (save one with cnn-wasm train or saveModel(..., { optimizer }))'}`);
  }
  return {
    model, optimizer, preset, dataset: typeof metadata.dataset === 'string' ? metadata.dataset : 'mnist', epochs: typeof metadata.epochs === 'number' ? metadata.epochs : 0,
    architecture: ownArchitecture ? { recipe: recipe! } : null,
    fit: fitOf(metadata.fit),
    run: runOf(metadata.run),
  };
}

/** What a checkpoint records of its run, for --resume to go on with it: the flags that choose the data and its order. */
interface RunRecord { seed?: number; valSize?: string; batchSize?: number; limit?: number; augment?: string }

/** A checkpoint's record of its run, what of it is well-formed (a file from elsewhere may hold anything). */
function runOf(v: unknown): RunRecord {
  if (typeof v !== 'object' || v === null) return {};
  const r = v as Record<string, unknown>;
  return {
    ...(Number.isInteger(r.seed) && (r.seed as number) >= 0 && (r.seed as number) <= 2 ** 31 ? { seed: r.seed as number } : {}),
    ...(typeof r.valSize === 'string' && /^(\d+|0?\.\d+)$/.test(r.valSize.trim()) ? { valSize: r.valSize } : {}), // what parseValSize takes
    ...(Number.isInteger(r.batchSize) && (r.batchSize as number) >= 1 && (r.batchSize as number) <= 65_536 ? { batchSize: r.batchSize as number } : {}),
    ...(Number.isInteger(r.limit) && (r.limit as number) >= 1 ? { limit: r.limit as number } : {}),
    ...(typeof r.augment === 'string' && augmentParses(r.augment) ? { augment: r.augment } : {}),
  };
}

/** Whether an --augment list parses. */
function augmentParses(list: string): boolean {
  try {
    parseAugment(list);
    return true;
  } catch {
    return false;
  }
}

/** Parses --val-size: a fraction below 1 (image folders) or a count of images. */
function parseValSize(v: string | undefined): { fraction: number | undefined; count: number | undefined } {
  if (v === undefined) return { fraction: undefined, count: undefined };
  if (/^0?\.\d+$/.test(v.trim())) return { fraction: Number(v), count: undefined };
  return { fraction: undefined, count: parseIntFlag('--val-size', v, 0) };
}

/** Parses --image-size: N (square) or WxH; returns [height, width]. */
function parseImageSize(v: string): [number, number] {
  const m = /^(\d+)(?:x(\d+))?$/.exec(v.trim());
  const w = m ? Number(m[1]) : NaN, h = m ? Number(m[2] ?? m[1]) : NaN;
  if (!(w >= 1 && w <= 4096 && h >= 1 && h <= 4096)) throw new UsageError(`invalid value '${v}' for --image-size (N or WxH, sides 1 to 4096)`);
  return [h, w];
}

/** The report page of a trained model on its test split: the most confident mistakes are the wrong answers with the highest probability. */
function trainingReport(model: Sequential, test: Dataset, epochs: EpochLogs[], result: Evaluation, classNames: string[] | null, facts: string[]): string {
  const k = model.classes, probs = model.predict(test.images), size = model.inputSize;
  const predicted = new Int32Array(test.count), best = new Float32Array(test.count);
  for (let i = 0; i < test.count; i++) {
    predicted[i] = argmax(probs, i * k, k);
    best[i] = probs[i * k + predicted[i]];
  }
  const names = classNames?.length === k ? classNames : null;
  const report = classReport(test.labels, predicted, k, names);
  const name = (c: number) => names?.[c] ?? String(c);
  const wrong = Array.from({ length: test.count }, (_, i) => i).filter((i) => predicted[i] !== test.labels[i]).sort((a, b) => best[b] - best[a] || a - b).slice(0, 24);
  const mistakes: Mistake[] = wrong.map((i) => ({
    pixels: (test.images as Uint8Array).subarray(i * size, (i + 1) * size), shape: model.inputShape,
    trueClass: name(test.labels[i]), predicted: name(predicted[i]), probability: best[i],
  }));
  return renderReport({ title: 'cnn-wasm training report', facts, epochs, testAccuracy: result.accuracy, testLoss: result.loss, report, mistakes });
}
