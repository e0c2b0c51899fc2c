/** The cnn-wasm command line, run as a user runs it (node bin/cnn-wasm.js; dist/ is built by `npm test`). */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../ts/model-file-node.js';
import { initBackend } from '../ts/backend/load.js';
import { mnistSample } from './data.js';

const bin = new URL('../bin/cnn-wasm.js', import.meta.url).pathname;
/** The build 'auto' picks in the CLI's processes: relaxed from Node 22; Node 20 runs relaxed SIMD only with a flag, which they do not get. */
const AUTO = Number(process.versions.node.split('.')[0]) >= 22 ? 'relaxed' : 'simd';
const dir = mkdtempSync(join(tmpdir(), 'cnn-wasm-cli-'));
const env = { ...process.env, CNN_WASM_CACHE: join(dir, 'cache') };
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env, cwd: dir });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('usage', () => {
  it('--help lists every command', () => {
    const r = run('--help');
    expect(r.code).toBe(0);
    for (const c of ['train', 'eval', 'predict', 'gradcheck', 'summary', 'info', 'bench']) expect(r.out).toMatch(new RegExp(`^  ${c} `, 'm'));
  });

  it.each([
    [['train', '--model', 'resnet'], /invalid value 'resnet' for --model \(valid: lenet5-bn, lenet5, deep4, simple, dense-head\)/],
    [['train', '--backend', 'gpu'], /invalid value 'gpu' for --backend \(valid: auto, relaxed, simd, scalar\)/],
    [['train', '--epochs', '0'], /invalid value '0' for --epochs \(an integer from 1 to 10000\)/],
    [['train', '--lr', 'fast'], /invalid value 'fast' for --lr/],
    [['train', '--optimizer', 'rmsprop'], /invalid value 'rmsprop' for --optimizer \(valid: sgd, adam\)/],
    [['train', '--dataset', 'cifar10'], /unknown dataset 'cifar10' \(valid: mnist, mnist-sample, fashion-mnist/],
    [['train', '--bogus'], /unknown option '--bogus'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['summary', '--model', 'vgg'], /invalid value 'vgg' for --model/],
  ])('%j exits 2 naming the valid choices', (args, msg) => {
    const r = run(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(msg as RegExp);
  });

  it('arguments past what a command takes are refused, not ignored', () => {
    expect(run('info', 'extra')).toMatchObject({ code: 2, err: expect.stringMatching(/too many arguments for 'info'/) });
    expect(run('eval', 'a.cnnw', 'b.cnnw')).toMatchObject({ code: 2, err: expect.stringMatching(/too many arguments for 'eval'/) });
  });

  it('file problems exit 1 naming the path', () => {
    expect(run('eval', join(dir, 'none.cnnw'), '--dataset', 'mnist-sample')).toMatchObject({ code: 1, err: expect.stringMatching(/none.cnnw: no such file \(give the path of a model file\)/) });
    writeFileSync(join(dir, 'junk.cnnw'), 'definitely not a model');
    expect(run('eval', join(dir, 'junk.cnnw'))).toMatchObject({ code: 1, err: expect.stringMatching(/junk.cnnw: not a cnn-wasm model file/) });
    writeFileSync(join(dir, 'digit.png'), 'not a png');
    expect(run('predict', join(dir, 'junk.cnnw'), join(dir, 'digit.png'))).toMatchObject({ code: 1, err: expect.stringMatching(/digit.png: unsupported image format/) });
    mkdirSync(join(dir, 'empty-data'), { recursive: true });
    expect(run('train', '--dataset', join(dir, 'empty-data'))).toMatchObject({ code: 1, err: expect.stringMatching(/missing train-images-idx3-ubyte/) });
  });

  it('info and summary', () => {
    const info = JSON.parse(run('info', '--json').out);
    expect(info).toMatchObject({ backend: AUTO, simdSupported: true, relaxedSimdSupported: AUTO === 'relaxed' });
    expect(info.reason).toMatch(AUTO === 'relaxed' ? /^auto: the engine validates relaxed SIMD/ : /^auto: the engine validates SIMD128 but not relaxed SIMD \(Node 20 enables it with --experimental-wasm-relaxed-simd\)/);
    if (AUTO === 'simd') expect(run('info', '--backend', 'relaxed')).toMatchObject({ code: 1, err: expect.stringMatching(/backend 'relaxed' requested but this JavaScript engine does not run relaxed SIMD/) });
    expect(run('info', '--backend', 'scalar').out).toMatch(/backend:\s+scalar/);
    const s = run('summary', '--model', 'lenet5-bn');
    expect(s.code).toBe(0);
    expect(s.out).toMatch(/Total params: 62,/);
  });
});

describe('train, eval, predict', () => {
  const model = join(dir, 'm.cnnw');
  it('train --json prints exactly one line with the results and saves the model', () => {
    const r = run('train', '--dataset', 'mnist-sample', '--epochs', '1', '--json', '--out', model);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]);
    expect(Object.keys(j)).toEqual(['model', 'dataset', 'backend', 'workers', 'epochs', 'trainImages', 'testAccuracy', 'testLoss', 'imagesPerSecond', 'seconds', 'modelPath']);
    expect(j).toMatchObject({ model: 'lenet5-bn', dataset: 'mnist-sample', backend: AUTO, epochs: 1, trainImages: 9000, modelPath: model });
    expect(j.testAccuracy).toBeGreaterThan(0.9);
    expect(j.imagesPerSecond).toBeGreaterThan(0);
    expect(r.err).toMatch(/epoch 1\/1: loss .* test acc/);
    const ev = JSON.parse(run('eval', model, '--dataset', 'mnist-sample', '--json').out);
    expect(ev.testAccuracy).toBe(j.testAccuracy);
    expect(run('eval', model).out).toMatch(/on mnist-sample test \(1,000 images\): accuracy/); // data set recorded in the file
  });

  it('predict reads PNG and PGM, inverts dark-on-light, centres and resizes like MNIST', async () => {
    const test = mnistSample('t10k', 20);
    let right = 0;
    for (let i = 0; i < 10; i++) {
      const digit = test.images.subarray(i * 784, (i + 1) * 784);
      // 3x larger, dark ink on white, off-centre in a 120x100 canvas.
      const png = new PNG({ width: 120, height: 100 });
      png.data.fill(255);
      for (let y = 0; y < 84; y++) for (let x = 0; x < 84; x++) {
        const v = 255 - digit[Math.floor(y / 3) * 28 + Math.floor(x / 3)];
        const o = ((y + 10) * 120 + x + 30) * 4;
        png.data[o] = png.data[o + 1] = png.data[o + 2] = v;
      }
      const file = join(dir, `d${i}.png`);
      writeFileSync(file, PNG.sync.write(png));
      const r = JSON.parse(run('predict', model, file, '--json', '--top', '3').out);
      expect(r.predictions).toHaveLength(3);
      if (r.predictions[0].class === test.labels[i]) right++;
    }
    expect(right).toBeGreaterThanOrEqual(8);
    // The same picture as binary PGM decodes to the same prediction as the PNG.
    const pix = new Uint8Array(120 * 100).fill(255);
    const digit = test.images.subarray(784, 2 * 784);
    for (let y = 0; y < 84; y++) for (let x = 0; x < 84; x++) pix[(y + 10) * 120 + x + 30] = 255 - digit[Math.floor(y / 3) * 28 + Math.floor(x / 3)];
    writeFileSync(join(dir, 'd.pgm'), Buffer.concat([Buffer.from('P5\n# a digit\n120 100\n255\n'), Buffer.from(pix)]));
    const fromPgm = run('predict', model, join(dir, 'd.pgm'), '--json');
    expect(fromPgm.code).toBe(0);
    expect(JSON.parse(fromPgm.out).predictions).toEqual(JSON.parse(run('predict', model, join(dir, 'd1.png'), '--json').out).predictions);
  });

  it('predict takes several images and directories: one result per image, each as predicting it alone gives; a bad one is named and the rest still classified', () => {
    // d0..d9.png and d.pgm were written by the test above; a folder of three with a subfolder.
    const sub = join(dir, 'pics', 'more');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(dir, 'pics', 'b.png'), readFileSync(join(dir, 'd2.png')));
    writeFileSync(join(dir, 'pics', 'a.pgm'), readFileSync(join(dir, 'd.pgm')));
    writeFileSync(join(sub, 'c.png'), readFileSync(join(dir, 'd3.png')));
    writeFileSync(join(dir, 'pics', 'notes.txt'), 'not an image, and not named like one');
    const alone = (f: string) => JSON.parse(run('predict', model, f, '--json', '--top', '2').out).predictions;
    const many = run('predict', model, join(dir, 'd0.png'), join(dir, 'pics'), join(dir, 'd5.png'), '--json', '--top', '2');
    expect(many.code, many.err).toBe(0);
    const lines = many.out.trim().split('\n').map((l) => JSON.parse(l));
    // In the order given, a directory's images sorted by path (subfolders too, other files left out).
    const order = [join(dir, 'd0.png'), join(dir, 'pics', 'a.pgm'), join(dir, 'pics', 'b.png'), join(sub, 'c.png'), join(dir, 'd5.png')];
    expect(lines.map((l) => l.image)).toEqual(order);
    for (const l of lines) expect(l.predictions).toEqual(alone(l.image));
    // Text: a line per image, its best class and probability.
    const text = run('predict', model, join(dir, 'd0.png'), join(dir, 'd5.png'));
    expect(text.out.trim().split('\n')).toEqual([join(dir, 'd0.png'), join(dir, 'd5.png')].map((f) => {
      const [best] = alone(f);
      return `${f}  ${best.class}  ${(best.probability * 100).toFixed(2)}%`;
    }));
    // A bad image among good ones: named on stderr, the others classified, exit 1.
    writeFileSync(join(dir, 'broken.png'), 'not a png');
    const mixed = run('predict', model, join(dir, 'd0.png'), join(dir, 'broken.png'), join(dir, 'd5.png'), '--json');
    expect(mixed.code).toBe(1);
    expect(mixed.err).toMatch(/broken\.png: unsupported image format/);
    expect(mixed.out.trim().split('\n').map((l) => JSON.parse(l).image)).toEqual([join(dir, 'd0.png'), join(dir, 'd5.png')]);
    mkdirSync(join(dir, 'no-images'), { recursive: true });
    expect(run('predict', model, join(dir, 'no-images'))).toMatchObject({ code: 1, err: expect.stringMatching(/no-images: no PNG, JPEG or PGM files in this directory/) });
    // A phone's HEIC picture in a directory, or given alone, is named with what to do; the others are classified.
    writeFileSync(join(sub, 'IMG_0002.HEIC'), 'ftypheic');
    const heic = run('predict', model, join(dir, 'pics'), '--json');
    expect(heic.code).toBe(1);
    expect(heic.err.trim()).toBe(`cnn-wasm: ${join(sub, 'IMG_0002.HEIC')}: HEIC pictures are not read; PNG, JPEG and PGM are (convert it, e.g. to JPEG)`);
    expect(heic.out.trim().split('\n').map((l) => JSON.parse(l).image)).toEqual([join(dir, 'pics', 'a.pgm'), join(dir, 'pics', 'b.png'), join(sub, 'c.png')]);
    expect(run('predict', model, join(sub, 'IMG_0002.HEIC')).err).toMatch(/IMG_0002\.HEIC: HEIC pictures are not read; PNG, JPEG and PGM are/);
  });

  it('gradcheck passes for a preset', () => {
    const r = run('gradcheck', '--model', 'simple');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/conv2d_1\/kernel .* ok/);
    expect(r.out).toMatch(/all tensors agree/);
  });

  it('--resume continues a saved model with its optimizer state', async () => {
    const first = join(dir, 'r1.cnnw'), second = join(dir, 'r2.cnnw');
    expect(run('train', '--dataset', 'mnist-sample', '--epochs', '1', '--out', first).code).toBe(0);
    const r = run('train', '--resume', first, '--epochs', '1', '--out', second, '--no-progress');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/resuming .*r1.cnnw: 1 epoch\(s\) and 71 steps done; 1 more epoch/);
    expect(r.out).toMatch(/training lenet5-bn on mnist-sample/); // the data set recorded in the checkpoint
    expect(r.out).toMatch(/epoch 2\/2: loss/);
    await initBackend();
    const loaded = loadModel(second);
    expect(loaded.metadata).toMatchObject({ preset: 'lenet5-bn', dataset: 'mnist-sample', epochs: 2, steps: 142 });
    expect(loaded.optimizer!.iterations).toBe(142);
    loaded.model.dispose();
    expect(run('train', '--resume', first, '--lr', '0.5')).toMatchObject({ code: 2, err: expect.stringMatching(/--lr cannot be combined with --resume/) });
  });

  it.each(['1', '2'])('Ctrl-C stops training cleanly and saves a loadable checkpoint (--workers %s)', async (workers) => {
    const out = join(dir, `ckpt${workers}.cnnw`);
    const child = spawn(process.execPath, [bin, 'train', '--dataset', 'mnist-sample', '--epochs', '50', '--workers', workers, '--out', out, '--no-progress'], { env, cwd: dir });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    let stdout = '', sent = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!sent && stdout.includes('epoch 1/50:')) {
        sent = true; // one Ctrl-C: a second one means "quit now"
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(130); // scripts can tell it stopped early
    expect(err).toMatch(/interrupted: finishing the current step and saving a checkpoint/);
    expect(stdout).toMatch(/checkpoint saved to .*ckpt\d.cnnw after \d+ steps; continue with: cnn-wasm train --resume/);
    expect(existsSync(out)).toBe(true);
    await initBackend();
    const loaded = loadModel(out);
    expect(loaded.metadata.interrupted).toBe(true);
    expect(loaded.optimizer!.iterations).toBeGreaterThan(70); // more than one epoch of 71 steps
    loaded.model.dispose();
    expect(readFileSync(out).length).toBeGreaterThan(200_000);
  });

  it('predict names the classes when the model file has them', async () => {
    await initBackend();
    const { model } = (await import('../ts/models/presets.js')).createPreset('simple');
    const path = join(dir, 'named.cnnw');
    const names = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
    (await import('../ts/model-file-node.js')).saveModel(model, path, { metadata: { classNames: names } });
    const png = new PNG({ width: 28, height: 28 });
    png.data.fill(255);
    for (let y = 6; y < 22; y++) for (let x = 12; x < 15; x++) png.data.fill(0, 4 * (y * 28 + x), 4 * (y * 28 + x) + 3); // a "1"
    writeFileSync(join(dir, 'white.png'), PNG.sync.write(png));
    const r = run('predict', path, join(dir, 'white.png'), '--json', '--top', '10');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const preds = JSON.parse(r.out).predictions as { class: number; name: string }[];
    for (const p of preds) expect(p.name).toBe(names[p.class]);
    expect(run('predict', path, join(dir, 'white.png')).out).toMatch(/^\d  +[\d.]+%  (T-shirt\/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot)$/m);
  });
});

describe('offline', () => {
  it('an offline train says so in one short line and trains on the sample', async () => {
    const { createServer } = await import('node:net');
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const e = { ...env, CNN_WASM_CACHE: join(dir, 'offline-cache'), CNN_WASM_MIRROR: `http://127.0.0.1:${port}` };
    const r = spawnSync(process.execPath, [bin, 'train', '--epochs', '1', '--limit', '256', '--out', join(dir, 'off.cnnw'), '--no-progress'], { encoding: 'utf8', env: e, cwd: dir });
    expect(r.status).toBe(0);
    const lines = r.stderr.trim().split('\n').filter((l) => /could not be downloaded/.test(l));
    expect(lines).toEqual(['MNIST could not be downloaded (connection refused); training on the bundled sample of 10,000 real MNIST digits instead']);
  });
});

describe('nothing a user made is lost', () => {
  it('every flag is checked before any data is loaded or downloaded', () => {
    const cache = join(dir, 'flags-cache');
    const e = { ...env, CNN_WASM_CACHE: cache, CNN_WASM_MIRROR: 'http://127.0.0.1:9/' };
    for (const args of [['--epochs', 'abc'], ['--batch-size', '0'], ['--limit', 'x'], ['--val-size', '-1'], ['--seed', '1.5'], ['--momentum', '2'], ['--workers', 'many'], ['--workers', '0']]) {
      const r = spawnSync(process.execPath, [bin, 'train', '--dataset', 'mnist', ...args], { encoding: 'utf8', env: e, cwd: dir });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`invalid value '${args[1]}' for ${args[0]}`));
      expect(r.stderr).not.toMatch(/download/);
    }
    expect(existsSync(cache)).toBe(false);
  });

  it('bench --workers checks --systems instead of ignoring it', () => {
    for (const [systems, msg] of [
      ['cnn-wasm-simd,tfjs-cpu', /'tfjs-cpu' in --systems is not measured with --workers/],
      ['pytorch', /measures one cnn-wasm build, and --systems names none: add cnn-wasm-relaxed or cnn-wasm-simd/],
      ['cnn-wasm-relaxed,cnn-wasm-simd', /names cnn-wasm-relaxed and cnn-wasm-simd/],
      ['torch', /invalid value 'torch' for --systems/],
      // The CLI runs without --experimental-wasm-relaxed-simd here, as users run it: Node 20 has no relaxed SIMD then.
      ...(Number(process.versions.node.split('.')[0]) < 22 ? [['cnn-wasm-relaxed', /cnn-wasm-relaxed cannot run here: this engine has no relaxed SIMD \(Node 20.*--experimental-wasm-relaxed-simd/] as const] : []),
    ] as const) {
      const r = spawnSync(process.execPath, [bin, 'bench', '--workers', '1,2', '--systems', systems], { encoding: 'utf8', env, cwd: dir, timeout: 20_000 });
      expect(r.status, systems).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stdout).toBe(''); // nothing measured
    }
  });

  it('bench --workers refuses a batch with fewer gradient leaves than workers, before measuring', () => {
    for (const [workers, batch, msg] of [
      ['1,2', '8', /a batch of 8 has 1 gradient leaf of 16 images.*2 workers.*--batch 17 or more/],
      ['1,2,4', '64,32', /a batch of 32 has 2 gradient leaves of 16 images.*4 workers.*--batch 49 or more/],
    ] as const) {
      const r = spawnSync(process.execPath, [bin, 'bench', '--workers', workers, '--batch', batch, '--systems', 'cnn-wasm-simd'], { encoding: 'utf8', env, cwd: dir, timeout: 20_000 });
      expect(r.status, `${workers} ${batch}`).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stdout).toBe(''); // nothing measured
    }
  });

  it('bench --workers warns when it is asked for more workers than the machine has cores', async () => {
    const { availableCores } = await import('../ts/parallel/group.js');
    const cores = await availableCores();
    // The batch is refused after the warning, so nothing is measured.
    const r = spawnSync(process.execPath, [bin, 'bench', '--workers', `1,${cores + 1}`, '--batch', '1'], { encoding: 'utf8', env, cwd: dir, timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`warning: ${cores + 1} workers on ${cores} cores: they take turns on the cores`);
    const ok = spawnSync(process.execPath, [bin, 'bench', '--workers', `1,${cores}`, '--batch', '1'], { encoding: 'utf8', env, cwd: dir, timeout: 20_000 });
    expect(ok.status).toBe(2);
    expect(ok.stderr).not.toMatch(/warning/);
  });

  it('--out is checked before training: a missing directory, a directory, an unwritable place', () => {
    for (const [out, msg] of [
      [join(dir, 'no-such-dir', 'm.cnnw'), /--out .*no-such-dir\/m.cnnw: directory .*no-such-dir does not exist/],
      [dir, /--out .*: is a directory; give a file name such as/],
      ['/proc/m.cnnw', /--out \/proc\/m.cnnw: cannot write in \/proc/],
    ] as const) {
      const r = run('train', '--dataset', 'mnist-sample', '--out', out);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(msg);
      expect(r.out).not.toMatch(/training/);
    }
  });

  it('a diverged run exits 1 naming the step and leaves the file at --out untouched', () => {
    const out = join(dir, 'keep.cnnw');
    writeFileSync(out, 'a model the user cares about');
    const r = run('train', '--dataset', 'mnist-sample', '--model', 'simple', '--lr', '10', '--weight-decay', '1', '--momentum', '0', '--epochs', '1', '--limit', '2000', '--out', out, '--no-progress');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/training diverged: loss is NaN at step \d+ \(learning rate 10\); lower the learning rate/);
    expect(readFileSync(out, 'utf8')).toBe('a model the user cares about');
  });
});

describe('the optimiser a run uses', () => {
  it('the optimiser flags: --optimizer switches to that kind\'s defaults, --lr keeps a schedule\'s shape, --momentum is for SGD only', async () => {
    const backend = await initBackend({ backend: 'simd' });
    const trainWith = (name: string, ...flags: string[]) => {
      const out = join(dir, `opt-${name}.cnnw`);
      const r = run('train', '--dataset', 'mnist-sample', '--epochs', '1', '--limit', '256', '--batch-size', '128', '--out', out, '--no-progress', ...flags);
      expect(r.code, r.err).toBe(0);
      const { model, optimizer } = loadModel(out, { backend });
      model.dispose();
      return optimizer!.config();
    };
    // lenet5-bn's recipe: SGD, momentum 0.9, weight decay 4e-4, lr 0.1 * 0.9^(step/30)
    expect(trainWith('recipe')).toMatchObject({ kind: 'sgd', momentum: 0.9, weightDecay: 4e-4, learningRate: { kind: 'stepDecay', lr: 0.1, factor: 0.9, every: 30 } });
    expect(trainWith('lr', '--lr', '0.05', '--momentum', '0.5')).toMatchObject({ kind: 'sgd', momentum: 0.5, weightDecay: 4e-4, learningRate: { kind: 'stepDecay', lr: 0.05, factor: 0.9, every: 30 } });
    expect(trainWith('adam', '--optimizer', 'adam', '--lr', '0.002', '--weight-decay', '0.001'))
      .toMatchObject({ kind: 'adam', learningRate: 0.002, beta1: 0.9, beta2: 0.999, weightDecay: 0.001 });
    const r = run('train', '--dataset', 'mnist-sample', '--epochs', '1', '--limit', '256', '--optimizer', 'adam', '--momentum', '0.5', '--out', join(dir, 'opt-no.cnnw'));
    expect(r).toMatchObject({ code: 2, err: expect.stringMatching(/--momentum applies to --optimizer sgd/) });
    expect(existsSync(join(dir, 'opt-no.cnnw'))).toBe(false);
  });
});

describe('messages a new user meets', () => {
  const model = join(dir, 'msg-model.cnnw');
  const trained = () => {
    if (!existsSync(model)) {
      const r = run('train', '--model', 'dense-head', '--dataset', 'mnist-sample', '--epochs', '1', '--limit', '500', '--out', model);
      expect(r.code, r.err).toBe(0);
    }
    return model;
  };
  const png = () => {
    const p = new PNG({ width: 28, height: 28 });
    const d = mnistSample('t10k', 1).images;
    for (let i = 0; i < 784; i++) p.data.set([d[i], d[i], d[i], 255], 4 * i);
    const path = join(dir, 'msg-digit.png');
    writeFileSync(path, PNG.sync.write(p));
    return path;
  };

  it('a missing model file, a directory, and swapped predict arguments say what to do', () => {
    expect(run('predict', join(dir, 'nope.cnnw'), png())).toMatchObject({ code: 1, err: expect.stringMatching(/nope.cnnw: no such file \(give the path of a model file\)/) });
    expect(run('eval', dir)).toMatchObject({ code: 1, err: expect.stringMatching(/: is a directory, not a model file/) });
    const swapped = run('predict', png(), trained());
    expect(swapped.code).toBe(1);
    expect(swapped.err.trim()).toBe(`cnn-wasm: ${model} is a cnn-wasm model file, not an image: the arguments look swapped (cnn-wasm predict <model> <image>)`);
    expect(run('predict', join(dir, 'none.png'), png()).err).toMatch(/none.png: no such file/);
  });

  it('eval or serve of an ONNX file points at cnn-wasm import; a PNG given as the model says so', () => {
    const onnx = join(dir, 'msg.onnx');
    expect(run('export', trained(), '--out', onnx).code).toBe(0);
    const r = run('eval', onnx, '--dataset', 'mnist-sample');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`not a cnn-wasm model file .*; it looks like an ONNX file: convert it with cnn-wasm import ${onnx.replace(/[.]/g, '\\.')} \\(which writes .*msg\\.cnnw\\)`));
    expect(run('serve', onnx, '--port', '0').err).toMatch(/it looks like an ONNX file: convert it with cnn-wasm import/);
    expect(run('eval', png()).err).toMatch(/it is a PNG image, not a model \(the model comes first/);
  });

  it('eval --dataset of a directory holding only the test files evaluates; of another data set warns', () => {
    const only = join(dir, 'only-test');
    mkdirSync(only, { recursive: true });
    const sample = new URL('../data/mnist-sample/', import.meta.url).pathname;
    for (const f of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
      const name = existsSync(join(sample, f)) ? f : `${f}.gz`;
      writeFileSync(join(only, name), readFileSync(join(sample, name)));
    }
    const r = run('eval', trained(), '--dataset', only, '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ dataset: only, trainedOn: 'mnist-sample', testImages: 1000 });
    expect(r.err).toMatch(new RegExp(`warning: .*msg-model.cnnw was trained on mnist-sample, not ${only.replace(/[.]/g, '\\.')}: its accuracy here measures it on another data set`));
    const same = run('eval', trained(), '--dataset', 'mnist-sample');
    expect(same.code).toBe(0);
    expect(same.err).not.toMatch(/warning/);
  });

  it('--workers 0 lists auto among the valid values', () => {
    expect(run('train', '--workers', '0')).toMatchObject({ code: 2, err: expect.stringMatching(/invalid value '0' for --workers \(an integer from 1 to 256, or auto for this machine's cores\)/) });
    expect(run('serve', trained(), '--workers', 'many')).toMatchObject({ code: 2, err: expect.stringMatching(/or auto/) });
  });
});

describe('train --early-stop and --save-best', () => {
  it('stops when the validation loss stops improving, and --out holds the best epoch\'s weights', async () => {
    const out = join(dir, 'best.cnnw');
    const r = run('train', '--model', 'dense-head', '--dataset', 'mnist-sample', '--epochs', '8', '--limit', '1500', '--val-size', '500', '--lr', '0.9', '--early-stop', '1', '--save-best', '--out', out, '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.stoppedAfterEpoch).toBeLessThan(8);
    expect(j.epochs).toBe(j.stoppedAfterEpoch);
    expect(j.bestEpoch).toBeLessThan(j.stoppedAfterEpoch); // the last epoch was worse: the file is not its model
    expect(r.err).toMatch(new RegExp(`early stop after epoch ${j.stoppedAfterEpoch}: the validation loss last improved in epoch ${j.bestEpoch}`));
    // The validation split is the last 500 of the first 1,500 training images: the saved model's loss on it is the best epoch's.
    const { model } = loadModel(out, { backend: await initBackend() });
    const val = mnistSample('train', 500, 1000);
    expect(model.evaluate(val, { batchSize: 256 }).loss).toBe(j.bestValLoss);
    model.dispose();
    expect(run('train', '--model', 'dense-head', '--dataset', 'mnist-sample', '--epochs', '1', '--save-best', '--out', out)).toMatchObject({ code: 2, err: expect.stringMatching(/--save-best watches the validation loss: hold out a validation split with --val-size N/) });
  }, 60_000);
});

describe('train --resume with --save-best', () => {
  it('a resumed epoch worse than the checkpoint on the validation split neither overwrites it nor is kept', async () => {
    const out = join(dir, 'resume-best.cnnw');
    // The SIMD build pins the bits on every engine (auto picks relaxed where it runs, whose epochs differ).
    const first = run('train', '--model', 'dense-head', '--dataset', 'mnist-sample', '--epochs', '3', '--limit', '1500', '--val-size', '500', '--lr', '0.2', '--save-best', '--out', out, '--json', '--backend', 'simd');
    expect(first.code, first.err).toBe(0);
    const bestLoss = JSON.parse(first.out).bestValLoss as number;
    const be = await initBackend({ backend: 'simd' });
    const weights = () => {
      const { model } = loadModel(out, { backend: be });
      const w = model.getWeights().map((t) => Array.from(t.values));
      model.dispose();
      return w;
    };
    const before = weights();
    const r = run('train', '--resume', out, '--epochs', '1', '--save-best', '--json', '--backend', 'simd');
    expect(r.code, r.err).toBe(0);
    // The test means something: the resumed epoch's validation loss is worse than the checkpoint's.
    const resumedLoss = Number(/epoch 4\/4: .*val loss ([0-9.]+)/.exec(r.err)![1]);
    expect(resumedLoss).toBeGreaterThan(bestLoss);
    expect(r.err).toMatch(new RegExp(`the checkpoint's validation loss is ${bestLoss.toFixed(4)}: an epoch must beat it to be saved`));
    expect(r.err).not.toMatch(/best so far/);
    expect(r.err).toMatch(new RegExp(`no epoch beat the checkpoint's validation loss \\(${bestLoss.toFixed(4)}\\): kept its weights`));
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ bestEpoch: 3, bestValLoss: bestLoss });
    // The file holds the checkpoint's weights (its optimizer state and epoch count have moved on).
    expect(weights()).toEqual(before);
  }, 60_000);
});

describe('eval: per class', () => {
  it('classReport counts each true class against each prediction, as a naive count does', async () => {
    const { classReport, formatReport } = await import('../ts/cli/confusion.js');
    const labels = [0, 0, 1, 2, 2, 2], predicted = [0, 1, 1, 2, 0, 2];
    const r = classReport(labels, predicted, 4, ['a', 'b', 'c', 'd']);
    expect(r.confusion).toEqual([[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]);
    expect(r.perClass.map((p) => p.accuracy)).toEqual([0.5, 1, 2 / 3, null]);
    expect(formatReport(r)).toMatch(/^  c\s+66\.7%  \(2\/3\)$/m);
    expect(() => classReport([5], [0], 4, null)).toThrow(/example 0 has label 5 and prediction 0, outside 0..3/);
  });

  it('many classes: the text and the page list the most confused pairs instead of a matrix too wide to read (1,000 classes)', async () => {
    const { classReport, formatReport } = await import('../ts/cli/confusion.js');
    const { renderReport } = await import('../ts/cli/report.js');
    const k = 1000;
    // Class c's three examples: right, right, and one taken for (c + 1) % k; class 7 also twice for 3.
    const labels: number[] = [], predicted: number[] = [];
    for (let c = 0; c < k; c++) { labels.push(c, c, c); predicted.push(c, c, (c + 1) % k); }
    labels.push(7, 7); predicted.push(3, 3);
    const r = classReport(labels, predicted, k, null);
    const text = formatReport(r);
    expect(text.split('\n').length).toBeLessThan(k + 40); // per class, then a bounded list
    expect(text).not.toMatch(/confusion matrix \(rows/);
    // Naive count: 7 -> 3 twice is the most confused pair, then the 1,000 single ones (the first by class).
    expect(text).toMatch(/most confused[^\n]*\n\s+7 taken for 3: 2 times\n\s+0 taken for 1: 1 time\n/);
    const page = renderReport({ title: 't', facts: [], epochs: [], testAccuracy: 0.5, testLoss: 1, report: r, mistakes: [] });
    expect(page).not.toMatch(/<table class="matrix">/);
    expect(page).toMatch(/<td>7<\/td><td>3<\/td><td>2<\/td>/);
    expect(page.length).toBeLessThan(200_000);
    // A matrix that fits is still drawn.
    expect(formatReport(classReport([0, 1], [1, 1], 2, null))).toMatch(/confusion matrix \(rows/);
  });
});

describe('train --report', () => {
  it('writes one self-contained page: curves, the confusion matrix, per-class accuracy, the most confident mistakes', () => {
    const page = join(dir, 'report.html');
    const r = run('train', '--model', 'dense-head', '--dataset', 'mnist-sample', '--epochs', '2', '--limit', '600', '--val-size', '100', '--report', page, '--out', join(dir, 'rep.cnnw'));
    expect(r.code, r.err).toBe(0);
    const html = readFileSync(page, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html.match(/<svg /g)).toHaveLength(2); // loss and accuracy
    expect(html.match(/<polyline /g)).toHaveLength(4); // training and validation, each
    expect(html).toMatch(/<table class="matrix">/);
    const imgs = html.match(/<img src="data:image\/png;base64,/g) ?? [];
    expect(imgs.length).toBeGreaterThan(0);
    expect(imgs.length).toBeLessThanOrEqual(24);
    expect(html).not.toMatch(/(src|href)="https?:/); // nothing from the network
    expect(r.out).toMatch(/report written to .*report\.html/);
    expect(run('train', '--report', join(dir, 'no-such-dir', 'r.html'))).toMatchObject({ code: 1, err: expect.stringMatching(/--report .*r\.html: directory .*no-such-dir does not exist/) });
  }, 60_000);

  it('escapes what it prints', async () => {
    const { renderReport } = await import('../ts/cli/report.js');
    const { classReport } = await import('../ts/cli/confusion.js');
    const html = renderReport({ title: 'a <b>', facts: ['x & y'], epochs: [], testAccuracy: 0.5, testLoss: 1, report: classReport([0, 1], [1, 1], 2, ['<script>', 'ok']), mistakes: [] });
    expect(html).not.toMatch(/<script>/);
    expect(html).toMatch(/&lt;script&gt;/);
    expect(html).toMatch(/a &lt;b&gt;/);
  });
});

describe('train --model arch.json', () => {
  it('trains a user\'s architecture with its recipe, records it, resumes it; misspelt options and shapes that do not fit are named', async () => {
    const arch = join(dir, 'tiny.json');
    writeFileSync(arch, JSON.stringify({
      layers: [
        { kind: 'conv2d', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' },
        { kind: 'maxPooling2d' },
        { kind: 'flatten' },
        { kind: 'dense', units: 10 },
      ],
      optimizer: { kind: 'adam', learningRate: 0.003 },
      batchSize: 32, epochs: 1,
    }));
    expect(run('summary', '--model', arch)).toMatchObject({ code: 0, out: expect.stringMatching(/conv2d_1 \(conv2d\)\s+\(None, 4, 28, 28\)\s+40\n[\s\S]*Total params: 7,890\n[\s\S]*recipe: \{"kind":"adam","learningRate":0.003\}, batch 32, 1 epochs/) });
    const out = join(dir, 'tiny.cnnw');
    const r = run('train', '--model', arch, '--dataset', 'mnist-sample', '--limit', '2000', '--out', out, '--json', '--no-progress');
    expect(r.code, r.err).toBe(0);
    const { model, optimizer, metadata } = loadModel(out, { backend: await initBackend({ backend: 'simd' }) });
    expect(model.layers.map((l) => l.kind)).toEqual(['conv2d', 'maxPooling2d', 'flatten', 'dense']);
    expect(model.layers[0].config()).toMatchObject({ filters: 4, kernelSize: [3, 3], padding: 'same' });
    expect(optimizer!.config()).toMatchObject({ kind: 'adam', learningRate: 0.003 });
    expect(metadata).toMatchObject({ preset: 'tiny', recipe: { batchSize: 32, epochs: 1 } });
    expect(optimizer!.iterations).toBe(Math.ceil(2000 / 32)); // the file's batch size
    const before = optimizer!.iterations;
    model.dispose();
    const again = run('train', '--resume', out, '--dataset', 'mnist-sample', '--limit', '2000', '--epochs', '1', '--out', out, '--no-progress');
    expect(again.code).toBe(0);
    expect(loadModel(out).optimizer!.iterations).toBe(before * 2);

    const bad = (o: unknown) => { writeFileSync(arch, typeof o === 'string' ? o : JSON.stringify(o)); return run('train', '--model', arch, '--dataset', 'mnist-sample', '--limit', '500', '--out', join(dir, 'x.cnnw')); };
    const dense = { kind: 'dense', units: 10 };
    for (const [file, msg] of [
      ['{ "layers": [', /tiny\.json: not valid JSON/],
      [{ layers: [{ kind: 'conv2d', filtres: 4, kernelSize: 3 }, { kind: 'flatten' }, dense] }, /tiny\.json: layer 1 \(conv2d\): unknown option "filtres" \(valid: name, filters, kernelSize/],
      [{ layers: [{ kind: 'lstm' }, dense] }, /tiny\.json: layer 1 \(lstm\): unknown layer kind "lstm"/],
      [{ layers: [{ kind: 'flatten' }, { kind: 'relu' }] }, /the last layer must be the classifier, a dense layer/],
      [{ layers: [{ kind: 'flatten' }, { kind: 'dense', units: 3 }] }, /tiny\.json: the last layer has 3 units; the data set has 10 classes/],
      [{ layers: [{ kind: 'conv2d', filters: 2, kernelSize: 40 }, { kind: 'flatten' }, dense] }, /tiny\.json: does not fit inputs of shape 1x28x28/],
      [{ layers: [dense], optimiser: {} }, /tiny\.json: unknown key "optimiser" \(valid: layers, optimizer, batchSize, epochs\)/],
      [{ layers: [dense], optimizer: { kind: 'rmsprop' } }, /"optimizer": unknown optimizer kind "rmsprop"/],
      [{ layers: [dense], batchSize: 0 }, /"batchSize" must be an integer from 1 to 65,536, got 0/],
    ] as const) {
      const res = bad(file);
      expect(res.code, res.err).toBe(1);
      expect(res.err).toMatch(msg);
    }
    expect(run('train', '--model', join(dir, 'none.json'))).toMatchObject({ code: 1, err: expect.stringMatching(/none\.json: no such file \(give the path of an architecture \(JSON\) file\)/) });
    // a file far larger than any architecture is refused by its size, before it is read
    writeFileSync(arch, ' '.repeat(2 ** 21));
    expect(run('summary', '--model', arch)).toMatchObject({ code: 1, err: expect.stringMatching(/tiny\.json: 2,097,152 bytes, more than the 1,048,576 an architecture \(JSON\) file may have/) });
  });
});

describe('bench --augment', () => {
  it('times the step with every augmentation, with whole-pixel moves and with none, side by side (the numbers are the benchmark\'s, not asserted)', () => {
    const r = run('bench', '--augment', '--rounds', '1', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.rows.map((x: { name: string }) => x.name)).toEqual(['none', 'shift, flip (whole-pixel moves)', 'all six (+ rotate, scale, brightness, contrast)']);
    expect(j.rows[0].cost).toBeNull();
    for (const x of j.rows) expect(x.msPerStep).toBeGreaterThan(0);
    expect(j.rows[2].augment).toEqual({ shift: 2, flip: true, rotate: 10, scale: 0.1, brightness: 0.2, contrast: 0.2 });
  });
});
