/** The package version (kept equal to package.json by test/cli.test.ts). */
export const VERSION = '0.1.0';
