/** `cnn-wasm eval <model>`: loss and accuracy of a saved model on a data set's test split. */
import type { Command } from 'commander';
import { asDataset, checkImageSize, cliDataset, makeOut, openModel, otherDataset } from './common.js';
import { classReport, formatReport } from './confusion.js';
import { classNamesOf } from '../io/modelfile.js';
import { fitOf } from '../image/prepare.js';

export function register(program: Command): void {
  program
    .command('eval <model>')
    .description('loss, accuracy, per-class accuracy and the confusion matrix of a saved model on a data set\'s test split')
    .option('--dataset <name|dir>', 'mnist | mnist-sample | fashion-mnist | a directory (default: the one it was trained on)')
    .option('--backend <name>', 'auto (relaxed, else simd, else scalar: what the engine runs) | relaxed | simd | scalar', 'auto')
    .option('--json', 'print one JSON line')
    .action(async (path: string, f: { dataset?: string; backend: string; json?: boolean }) => {
      const out = makeOut(!!f.json);
      const { model, metadata } = await openModel(path, f.backend);
      const spec = f.dataset ?? (typeof metadata.dataset === 'string' ? metadata.dataset : 'mnist');
      const fit = fitOf(metadata.fit);
      const data = await cliDataset(spec, out, { splits: 'test', folder: { imageSize: [model.inputShape[1], model.inputShape[2]], channels: model.inputShape[0] as 1 | 3, fit } });
      if (!data.shape) checkImageSize(data);
      const trainedOn = typeof metadata.dataset === 'string' ? metadata.dataset : undefined;
      const key = (n: string) => n.toLowerCase().replace(/[^a-z0-9]+/g, '');
      const sameClasses = (a: string[] | null | undefined, b: string[] | null | undefined) => !!a && !!b && a.length === b.length && [...a].map(key).sort().join() === [...b].map(key).sort().join();
      if (otherDataset(trainedOn, data.name) && !sameClasses(classNamesOf(metadata, model.classes), data.classNames)) {
        process.stderr.write(`warning: ${path} was trained on ${trainedOn}, not ${data.name}: its accuracy here measures it on another data set (drop --dataset to evaluate it on its own)\n`);
      }
      let test = asDataset(data.test);
      const modelNames = classNamesOf(metadata, model.classes);
      // The model's classes and the data set's, by name: the same classes in another order are matched (a folder's are sorted by name).
      if (modelNames && data.classNames && data.classNames.join('\n') !== modelNames.join('\n')) {
        const at = new Map(modelNames.map((n, i) => [key(n), i]));
        const map = data.classNames.map((n) => at.get(key(n)));
        if (map.length === modelNames.length && map.every((i) => i !== undefined) && new Set(map).size === map.length) {
          test = { ...test, labels: Uint16Array.from(test.labels as ArrayLike<number>, (l) => map[l]!) };
          process.stderr.write(`note: ${data.name}'s classes are the model's in another order; its labels are matched to the model's classes by name\n`);
        } else {
          process.stderr.write(`warning: ${path}'s classes (${modelNames.join(', ')}) are not ${data.name}'s (${data.classNames.join(', ')}): the accuracy compares unrelated labels\n`);
        }
      }
      const r = model.evaluate(test);
      const names = modelNames ?? (data.classNames?.length === model.classes ? data.classNames : null);
      const report = classReport(test.labels, model.predictClass(test.images), model.classes, names);
      if (out.json) console.log(JSON.stringify({ model: path, dataset: data.name, ...(trainedOn ? { trainedOn } : {}), testImages: data.test.count, testAccuracy: r.accuracy, testLoss: r.loss, perClass: report.perClass, confusion: report.confusion }));
      else {
        console.log(`${path} on ${data.name} test (${data.test.count.toLocaleString('en-US')} images): accuracy ${(r.accuracy * 100).toFixed(2)}%, loss ${r.loss.toFixed(4)}`);
        console.log(formatReport(report));
      }
      model.dispose();
    });
}
