/** `cnn-wasm summary`: layers, output shapes and parameter counts of a preset or a saved model. */
import type { Command } from 'commander';
import { initBackend } from '../backend/load.js';
import { createPreset, PRESET_NAMES, presetDescription } from '../models/presets.js';
import { openModel } from './common.js';
import { parseChoice } from './options.js';

export function register(program: Command): void {
  program
    .command('summary')
    .description('print the layers, output shapes and parameter counts of a preset or a saved model')
    .option('--model <name|file>', `preset (${PRESET_NAMES.join(' | ')}) or a .cnnw file`, 'lenet5-bn')
    .action(async (f: { model: string }) => {
      if (PRESET_NAMES.includes(f.model)) {
        await initBackend();
        const { model, recipe } = createPreset(f.model);
        console.log(`${f.model}: ${presetDescription(f.model)}`);
        console.log(model.summary());
        console.log(`recipe: ${JSON.stringify(recipe.optimizer)}, batch ${recipe.batchSize}, ${recipe.epochs} epochs`);
        model.dispose();
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
