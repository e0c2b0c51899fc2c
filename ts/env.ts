/** Where the library runs. */

/** Whether this is Node (as opposed to a browser or a Web Worker). */
export const isNode = typeof process === 'object' && process !== null && typeof process.versions?.node === 'string';
