/** `cnn-wasm summary`: layers, output shapes and parameter counts of a preset or a saved model. */
import type { Command } from 'commander';
import { initBackend } from '../backend/load.js';
import { createPreset, PRESET_NAMES, presetDescription } from '../models/presets.js';
import { createFromArchitecture } from '../models/architecture.js';
import { FileProblem, openModel, readArchitectureFile } from './common.js';
import { parseChoice } from './options.js';

export function register(program: Command): void {
  program
    .command('summary')
    .description('print the layers, output shapes and parameter counts of a preset or a saved model')
    .option('--model <name|file>', `preset (${PRESET_NAMES.join(' | ')}), an architecture .json file (for 1x28x28 inputs) or a .cnnw file`, 'lenet5-bn')
    .action(async (f: { model: string }) => {
      if (PRESET_NAMES.includes(f.model)) {
        await initBackend();
        const { model, recipe } = createPreset(f.model);
        console.log(`${f.model}: ${presetDescription(f.model)}`);
        console.log(model.summary());
        console.log(`recipe: ${JSON.stringify(recipe.optimizer)}, batch ${recipe.batchSize}, ${recipe.epochs} epochs`);
        model.dispose();
      } else if (/\.json$/i.test(f.model)) {
        await initBackend();
        const arch = readArchitectureFile(f.model);
        let model;
        try {
          model = createFromArchitecture(arch, f.model, { classes: Number(arch.layers[arch.layers.length - 1].units) });
          console.log(model.summary());
          console.log(`recipe: ${JSON.stringify(arch.recipe.optimizer)}, batch ${arch.recipe.batchSize}, ${arch.recipe.epochs} epochs`);
        } catch (e) {
          throw new FileProblem((e as Error).message);
        } finally {
          model?.dispose();
        }
      } else if (f.model.endsWith('.cnnw') || f.model.includes('/')) {
        const { model, metadata } = await openModel(f.model, 'auto');
        console.log(model.summary());
        if (Object.keys(metadata).length) console.log(`metadata: ${JSON.stringify(metadata)}`);
        model.dispose();
      } else {
        parseChoice('--model', f.model, PRESET_NAMES);
      }
    });
}
