/** `cnn-wasm bench`: side-by-side benchmarks (SIMD vs scalar) printed as a table or one JSON line. */
import type { Command } from 'commander';
import { relaxedSupported } from '../backend/load.js';
import { benchAugment } from '../bench/augment.js';
import { benchKernels, benchPeak, type KernelResult } from '../bench/kernels.js';
import { benchModels, machineInfo, profileModel, SYSTEMS, type ModelResult, type System } from '../bench/models.js';
import { PRESET_NAMES } from '../models/presets.js';
import { benchWorkers, defaultWorkerBuild, workerBatchProblem, type StepTiming, type WorkerBenchRow, type WorkerBuild } from '../bench/workers.js';
import { availableCores } from '../parallel/group.js';
import { ownedImages } from '../layers/step.js';
import { UsageError, parseChoice, parseIntFlag } from './options.js';

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

/** Why the relaxed build is not measured here. */
function relaxedNote(): string {
  return `this engine has no relaxed SIMD (Node ${process.versions.node}${Number(process.versions.node.split('.')[0]) < 22 ? '; run node --experimental-wasm-relaxed-simd, or Node 22+' : ''})`;
}

function printKernelRow(r: KernelResult): void {
  const relaxed = r.relaxedGflops === null ? `${pad('-', 8, true)} ${pad('-', 6, true)}` : `${pad(r.relaxedGflops.toFixed(1), 8, true)} ${pad((r.relaxedPeakShare! * 100).toFixed(0) + '%', 6, true)}`;
  const evicted = `${r.relaxedEvictedPeakShare === null ? '-' : (r.relaxedEvictedPeakShare * 100).toFixed(0)}/${(r.evictedPeakShare * 100).toFixed(0)}%`;
  console.log(`${pad(r.name, 16)} ${relaxed} ${pad(r.simdGflops.toFixed(1), 8, true)} ${pad((r.peakShare * 100).toFixed(0) + '%', 6, true)} ${pad(r.scalarGflops.toFixed(1), 8, true)} ${pad(r.ratio.toFixed(2) + 'x', 7, true)} ${pad(evicted, 9, true)}  ${r.description}`);
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

function printModelTable(results: ModelResult[]): void {
  for (const mode of ['train', 'infer'] as const) {
    const rows = results.filter((r) => r.mode === mode).sort((a, b) => SYSTEMS.indexOf(a.system) - SYSTEMS.indexOf(b.system));
    const simd = rows.find((r) => r.system === 'cnn-wasm-simd')?.imagesPerSecond ?? null;
    console.log(`\n${mode === 'train' ? 'training (forward + backward + update)' : 'inference'}, images/s (higher is better)`);
    for (const r of rows) {
      const v = r.imagesPerSecond;
      const speedup = r.simdSpeedup ?? (v !== null && simd !== null ? simd / v : null);
      const ratios = [
        r.relaxedSpeedup !== undefined ? `cnn-wasm relaxed is ${r.relaxedSpeedup.toFixed(2)}x${roundsRange(r.relaxedSpeedupRange)}` : '',
        speedup !== null && r.system !== 'cnn-wasm-simd' ? `cnn-wasm SIMD is ${speedup.toFixed(2)}x${roundsRange(r.simdSpeedupRange)}` : '',
      ].filter(Boolean);
      const ratio = ratios.length ? `  ${ratios.join(', ')}` : '';
      console.log(`  ${pad(r.system, 16)} ${v === null ? `unsupported: ${r.unsupported}` : pad(fmt(v), 9, true)}${ratio}`);
    }
  }
}

/** " (rounds 1.41-1.85)": the lowest and highest per-round ratio behind a median ratio. */
function roundsRange(range: [number, number] | undefined): string {
  return range ? ` (rounds ${range.map((x) => x.toFixed(2)).join('-')})` : '';
}

function printWorkerTable(rows: WorkerBenchRow[], timing: StepTiming[], pytorch: string, build: WorkerBuild): void {
  for (const mode of ['train', 'infer'] as const) {
    const ms = rows.filter((r) => r.mode === mode);
    for (const batch of [...new Set(ms.map((r) => r.batch))]) {
      console.log(`\n${mode === 'train' ? `training, batch ${batch}` : `inference of ${batch} digits`}, images/s (higher is better)`);
      for (const r of ms.filter((x) => x.batch === batch)) {
        const name = r.system === 'cnn-wasm' ? `cnn-wasm ${build === 'relaxed' ? 'relaxed' : 'SIMD'}, ${r.threads} worker${r.threads > 1 ? 's' : ''}` : `PyTorch, ${r.threads} thread${r.threads > 1 ? 's' : ''}`;
        const extra = [r.speedup ? `${r.speedup.toFixed(2)}x of 1 worker${roundsRange(r.speedupRange)}` : '', r.vsPytorch ? `${r.vsPytorch.toFixed(2)}x PyTorch with ${r.threads} thread${r.threads > 1 ? 's' : ''}` : ''].filter(Boolean).join(', ');
        console.log(`  ${pad(name, 30)} ${pad(fmt(r.imagesPerSecond), 9, true)}${extra ? `  ${extra}` : ''}`);
      }
    }
  }
  if (!/^PyTorch/.test(pytorch)) console.log(`\n  PyTorch: ${pytorch}`);
  if (timing.length) {
    console.log('\nwhere a multi-worker training step goes, ms (per worker: copies in, compute, waiting at barriers, leaf-gradient copies, reduction; main: the calling thread\'s copies and update)');
    for (const t of timing) {
      const share = (x: number) => `${((x / t.step) * 100).toFixed(0)}%`;
      console.log(`  batch ${pad(String(t.batch), 4)} ${t.workers} workers: step ${t.step.toFixed(2)} = compute ${t.compute.toFixed(2)} (${share(t.compute)}), wait ${t.wait.toFixed(2)} (${share(t.wait)}), copies ${(t.copyIn + t.leafCopy).toFixed(2)} (${share(t.copyIn + t.leafCopy)}), reduce ${t.reduce.toFixed(2)}, main ${t.main.toFixed(2)}, dispatch ${Math.max(0, t.step - t.copyIn - t.compute - t.wait - t.leafCopy - t.reduce - t.main).toFixed(2)}; leaves split unevenly by speed in ${(100 * t.uneven).toFixed(0)}% of steps`);
    }
    console.log('\nthis machine\'s ceilings, N threads vs 1 in the same rounds, and training\'s speed-up as a share of each: pure multiply-add meeting at as many barriers'
      + ' a step, a step as long; N independent trainings, each thread training its share of the batch on a model of its own, no barriers (one thread trains every share in turn)');
    for (const t of timing) {
      const got = rows.find((r) => r.mode === 'train' && r.batch === t.batch && r.system === 'cnn-wasm' && r.threads === t.workers)?.speedup;
      const of = (x: number) => (got ? ` (${((got / x) * 100).toFixed(0)}%)` : '');
      console.log(`  batch ${pad(String(t.batch), 4)} ${t.workers} workers${got ? ` ${got.toFixed(2)}x` : ''}: multiply-add with ${t.barriers} barrier${t.barriers === 1 ? '' : 's'} ${t.ceiling.toFixed(2)}x${of(t.ceiling)}, `
        + `${t.workers} independent trainings of ${shareSizes(t.batch, t.workers)} images ${t.independent.toFixed(2)}x${of(t.independent)}`);
    }
  }
}

/** `--systems`, checked: the systems it names (every one without it). */
function parseSystems(flag: string | undefined): readonly System[] {
  return flag === undefined ? SYSTEMS : flag.split(',').map((x) => parseChoice('--systems', x.trim(), SYSTEMS) as System);
}

/** The images each worker's share of a batch holds, as the pool splits it ("64", or "16 + 32" where the leaves do not divide evenly). */
function shareSizes(batch: number, workers: number): string {
  const sizes = Array.from({ length: workers }, (_, w) => { const [a, b] = ownedImages(batch, w, workers); return b - a; });
  return sizes.every((x) => x === sizes[0]) ? String(sizes[0]) : sizes.join(' + ');
}

/**
 * The systems `--workers` measures: one SIMD build of cnn-wasm (the relaxed
 * one where this engine has relaxed SIMD, as 'auto' picks, unless --systems
 * names cnn-wasm-simd), and PyTorch unless `--systems` leaves it out.
 */
const WORKER_SYSTEMS = ['cnn-wasm-relaxed', 'cnn-wasm-simd', 'pytorch'];
function workerSystems(flag: string | undefined): { pytorch: boolean; build: WorkerBuild } {
  if (flag === undefined) return { pytorch: true, build: defaultWorkerBuild() };
  const systems = parseSystems(flag);
  const other = systems.find((x) => !WORKER_SYSTEMS.includes(x));
  if (other) throw new UsageError(`bench: --workers measures ${WORKER_SYSTEMS.join(', ')} only; '${other}' in --systems is not measured with --workers`);
  const builds = systems.filter((x) => x.startsWith('cnn-wasm-'));
  if (builds.length !== 1) {
    throw new UsageError(`bench: --workers measures one cnn-wasm build, and --systems names ${builds.length === 0 ? 'none' : builds.join(' and ')}: add cnn-wasm-relaxed or cnn-wasm-simd (not both)`);
  }
  const build = builds[0] === 'cnn-wasm-relaxed' ? 'relaxed' : 'simd';
  if (build === 'relaxed' && !relaxedSupported()) throw new UsageError(`bench: cnn-wasm-relaxed cannot run here: ${relaxedNote()}`);
  return { pytorch: systems.includes('pytorch'), build };
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('benchmark training and inference of the builds side by side with PyTorch, onnxruntime, TensorFlow.js and ConvNetJS where installed (--kernels: GEMM/conv GFLOP/s, --workers, --profile)')
    .option('--model <name>', 'lenet5-bn | lenet5 | deep4 (or any preset)', 'lenet5-bn')
    .option('--systems <list>', `comma-separated subset of ${SYSTEMS.join(',')} (with --workers: of ${WORKER_SYSTEMS.join(',')})`)
    .option('--profile', 'per-layer forward/backward milliseconds per step (cnn-wasm, both builds)')
    .option('--kernels', 'GEMM and conv kernels at LeNet-5 batch-128 shapes, GFLOP/s')
    .option('--filter <text>', 'with --kernels: only benchmarks whose name contains <text>')
    .option('--rounds <n>', 'interleaved timing rounds; the median is reported', '5')
    .option('--workers <list>', 'worker counts to compare side by side, e.g. 1,2 (training and inference; the relaxed build where the engine has relaxed SIMD, else SIMD: --systems picks; PyTorch at the same thread counts when installed)')
    .option('--batch <list>', 'with --workers: training batch sizes, e.g. 64,128,256', '128')
    .option('--augment', 'what augmentation costs a training step (batch 128): every augmentation, whole-pixel moves only, none, side by side')
    .option('--json', 'print one JSON line instead of a table')
    .action(async (opts: { model: string; systems?: string; profile?: boolean; kernels?: boolean; filter?: string; rounds: string; json?: boolean; workers?: string; batch: string; augment?: boolean }) => {
      const rounds = parseIntFlag('--rounds', opts.rounds, 1, 100);
      if (opts.augment) {
        const model = parseChoice('--model', opts.model, PRESET_NAMES);
        const machine = machineInfo();
        const rows = await benchAugment({ model, rounds });
        if (opts.json) {
          console.log(JSON.stringify({ machine, model, batch: 128, rows: rows.map((r) => ({ ...r, msPerStep: +r.msPerStep.toFixed(3), cost: r.cost === null ? null : +r.cost.toFixed(4), costRange: r.costRange?.map((x) => +x.toFixed(4)) ?? null })) }));
          return;
        }
        console.log(`augmentation's cost: ${model}, batch 128, one thread, SIMD; ${machine.cpu}, node ${machine.node}; median of ${rounds} interleaved rounds, cost = median of per-round ratios to the plain step`);
        console.log(`${pad('augmentation', 48)} ${pad('ms/step', 8, true)} ${pad('cost', 7, true)}  range`);
        for (const r of rows) {
          const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
          console.log(`${pad(r.name, 48)} ${pad(r.msPerStep.toFixed(2), 8, true)} ${pad(r.cost === null ? '' : pct(r.cost), 7, true)}  ${r.costRange ? `${pct(r.costRange[0])} .. ${pct(r.costRange[1])}` : ''}`);
        }
        return;
      }
      if (opts.workers !== undefined) {
        const model = parseChoice('--model', opts.model, PRESET_NAMES);
        const workers = opts.workers.split(',').map((x) => parseIntFlag('--workers', x.trim(), 1, 64));
        const cores = await availableCores(), most = Math.max(...workers);
        if (most > cores) process.stderr.write(`warning: ${most} workers on ${cores} cores: they take turns on the cores, so their row measures that, not ${most} cores' speed-up\n`);
        const batches = opts.batch.split(',').map((x) => parseIntFlag('--batch', x.trim(), 1, 4096));
        const problem = workerBatchProblem(workers, batches);
        if (problem) throw new UsageError(`bench: ${problem}`);
        const { pytorch, build } = workerSystems(opts.systems);
        const machine = machineInfo();
        if (!opts.json) console.log(`${model}: workers ${workers.join(', ')} side by side, cnn-wasm's ${build} build; ${machine.cpu}, ${machine.cores} cores, node ${machine.node}; median of ${rounds} interleaved rounds, ratios = medians of per-round ratios`);
        const r = await benchWorkers({ model, workers, batches, rounds, pytorch, build, onNote: opts.json ? undefined : (m) => process.stderr.write(`${m}\n`) });
        if (opts.json) {
          console.log(JSON.stringify({ machine, build: r.build, pytorch: r.pytorch, rows: r.rows.map((x) => ({ ...x, imagesPerSecond: Math.round(x.imagesPerSecond), ...(x.speedup ? { speedup: +x.speedup.toFixed(3) } : {}), ...(x.speedupRange ? { speedupRange: x.speedupRange.map((y) => +y.toFixed(3)) } : {}), ...(x.vsPytorch ? { vsPytorch: +x.vsPytorch.toFixed(3) } : {}) })), timing: r.timing.map((t) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, +v.toFixed(3)]))) }));
          return;
        }
        printWorkerTable(r.rows, r.timing, r.pytorch, r.build);
        return;
      }
      if (opts.kernels) {
        const peak = await benchPeak({ rounds });
        if (!opts.json) {
          console.log(`kernel benchmarks: GFLOP/s (higher is better), medians of ${rounds} rounds; the builds alternate every ~2 ms, ratio = SIMD over scalar, the median of per-round ratios`);
          console.log(`this machine's f32x4 peaks (12 independent chains): multiply, then add ${peak.simdGflops.toFixed(1)} GFLOP/s; fused (relaxed_madd) ${peak.relaxedGflops === null ? `not measured: ${relaxedNote()}` : `${peak.relaxedGflops.toFixed(1)} GFLOP/s`}`);
          console.log('"peak" = each kernel\'s share of its own build\'s peak, timed in the same rounds, its operands in cache (as in a training step, where the layer before has just written them);');
          console.log('"evicted" = the same shares (relaxed/SIMD) for the first call of each slice, timed apart: the other builds\' calls have partly evicted its operands');
          console.log(`${pad('name', 16)} ${pad('relaxed', 8, true)} ${pad('peak', 6, true)} ${pad('SIMD', 8, true)} ${pad('peak', 6, true)} ${pad('scalar', 8, true)} ${pad('ratio', 7, true)} ${pad('evicted', 9, true)}  shape`);
        }
        const results = await benchKernels({ filter: opts.filter, rounds, onResult: opts.json ? undefined : printKernelRow });
        if (results.length === 0) throw new UsageError(`bench: no kernel benchmark matches '${opts.filter}'`);
        if (opts.json) {
          console.log(JSON.stringify({
            peak: { simdGflops: +peak.simdGflops.toFixed(2), scalarGflops: +peak.scalarGflops.toFixed(2), relaxedGflops: peak.relaxedGflops === null ? null : +peak.relaxedGflops.toFixed(2) },
            kernels: results.map((r) => ({
              name: r.name, simdGflops: +r.simdGflops.toFixed(2), scalarGflops: +r.scalarGflops.toFixed(2), ratio: +r.ratio.toFixed(3), peakShare: +r.peakShare.toFixed(3),
              relaxedGflops: r.relaxedGflops === null ? null : +r.relaxedGflops.toFixed(2), relaxedPeakShare: r.relaxedPeakShare === null ? null : +r.relaxedPeakShare.toFixed(3),
              evictedPeakShare: +r.evictedPeakShare.toFixed(3), relaxedEvictedPeakShare: r.relaxedEvictedPeakShare === null ? null : +r.relaxedEvictedPeakShare.toFixed(3),
            })),
          }));
        }
        return;
      }
      const model = parseChoice('--model', opts.model, PRESET_NAMES);
      if (opts.profile) {
        for (const backend of [...(relaxedSupported() ? ['relaxed'] as const : []), 'simd', 'scalar'] as const) {
          const rows = await profileModel(model, backend);
          const total = rows.reduce((s, r) => s + r.forwardMs + r.backwardMs, 0);
          console.log(`\n${model}, cnn-wasm ${backend}, batch 128: ms per training step (total ${total.toFixed(2)} ms = ${fmt((128 / total) * 1000)} img/s)`);
          console.log(`  ${pad('layer', 26)} ${pad('forward', 9, true)} ${pad('backward', 9, true)} ${pad('share', 7, true)}`);
          for (const r of rows) {
            console.log(`  ${pad(r.layer, 26)} ${pad(r.forwardMs.toFixed(3), 9, true)} ${pad(r.backwardMs.toFixed(3), 9, true)} ${pad((((r.forwardMs + r.backwardMs) / total) * 100).toFixed(1) + '%', 7, true)}`);
          }
        }
        return;
      }
      const systems = parseSystems(opts.systems);
      const machine = machineInfo();
      if (!opts.json) console.log(`${model}, batch 128, single thread; ${machine.cpu}, ${machine.cores} cores, node ${machine.node}; median of ${rounds} interleaved rounds`);
      const results = await benchModels({ model, rounds, systems, onNote: opts.json ? undefined : (m) => process.stderr.write(`${m}\n`) });
      if (opts.json) console.log(JSON.stringify({ machine, results: results.map((r) => ({ ...r, imagesPerSecond: r.imagesPerSecond === null ? null : Math.round(r.imagesPerSecond), ...(r.simdSpeedup === undefined ? {} : { simdSpeedup: +r.simdSpeedup.toFixed(3) }), ...(r.simdSpeedupRange ? { simdSpeedupRange: r.simdSpeedupRange.map((x) => +x.toFixed(3)) } : {}), ...(r.relaxedSpeedup === undefined ? {} : { relaxedSpeedup: +r.relaxedSpeedup.toFixed(3), relaxedSpeedupRange: r.relaxedSpeedupRange!.map((x) => +x.toFixed(3)) }) })) }));
      else printModelTable(results);
    });
}
