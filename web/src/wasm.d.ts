// vite-plugin-wasm turns `import('x.wasm')` into the exports of an instance.
declare module '*.wasm' {
  const exports: Record<string, unknown>;
  export = exports;
}
