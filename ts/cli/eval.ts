/** `cnn-wasm eval <model>`: loss and accuracy of a saved model on a data set's test split. */
import type { Command } from 'commander';
import { asDataset, checkImageSize, cliDataset, makeOut, openModel, otherDataset } from './common.js';

export function register(program: Command): void {
  program
    .command('eval <model>')
    .description('loss and accuracy of a saved model on a data set\'s test split')
    .option('--dataset <name|dir>', 'mnist | mnist-sample | fashion-mnist | a directory (default: the one it was trained on)')
    .option('--backend <name>', 'auto | simd | scalar', 'auto')
    .option('--json', 'print one JSON line')
    .action(async (path: string, f: { dataset?: string; backend: string; json?: boolean }) => {
      const out = makeOut(!!f.json);
      const { model, metadata } = await openModel(path, f.backend);
      const spec = f.dataset ?? (typeof metadata.dataset === 'string' ? metadata.dataset : 'mnist');
      const fit = metadata.fit === 'digit' || metadata.fit === 'resize' ? metadata.fit : undefined;
      const data = await cliDataset(spec, out, { splits: 'test', folder: { imageSize: [model.inputShape[1], model.inputShape[2]], channels: model.inputShape[0] as 1 | 3, fit } });
      if (!data.shape) checkImageSize(data);
      const trainedOn = typeof metadata.dataset === 'string' ? metadata.dataset : undefined;
      if (otherDataset(trainedOn, data.name)) {
        process.stderr.write(`warning: ${path} was trained on ${trainedOn}, not ${data.name}: its accuracy here measures it on another data set (drop --dataset to evaluate it on its own)\n`);
      }
      const r = model.evaluate(asDataset(data.test));
      if (out.json) console.log(JSON.stringify({ model: path, dataset: data.name, ...(trainedOn ? { trainedOn } : {}), testImages: data.test.count, testAccuracy: r.accuracy, testLoss: r.loss }));
      else console.log(`${path} on ${data.name} test (${data.test.count.toLocaleString('en-US')} images): accuracy ${(r.accuracy * 100).toFixed(2)}%, loss ${r.loss.toFixed(4)}`);
      model.dispose();
    });
}
