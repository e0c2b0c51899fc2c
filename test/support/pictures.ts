/** Pictures for tests: small colour PNG folders written with pngjs. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';

/** A folder of small colour PNGs: three classes, the colour and a bar's position vary. */
export function writeColourFolder(root: string, perClass: number): void {
  const classes = { red: [220, 30, 30], green: [30, 200, 40], blue: [30, 40, 220] } as const;
  for (const [name, rgb] of Object.entries(classes)) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const png = new PNG({ width: 12, height: 10 });
      for (let p = 0; p < 120; p++) {
        const bar = p % 12 === (i % 10) + 1;
        png.data.set(bar ? [255, 255, 255, 255] : [rgb[0] - (i % 7) * 3, rgb[1] + (p % 5), rgb[2], 255], 4 * p);
      }
      writeFileSync(join(root, name, `${String(i).padStart(3, '0')}.png`), PNG.sync.write(png));
    }
  }
}
