// README's "Use it in a web app" webpack.config.js, as a consumer writes it:
// ES module output, because the library and its worker scripts use top-level
// await and run as module workers. (Serve dist-webpack/ with the two
// cross-origin isolation headers, as for Vite.)
export default {
  mode: 'production',
  entry: './main.js',
  experiments: { outputModule: true },
  output: {
    module: true, chunkFormat: 'module', workerChunkLoading: 'import',
    path: new URL('./dist-webpack', import.meta.url).pathname, clean: true,
  },
  performance: { hints: false }, // the bundled sample is 1.4 MB
};
