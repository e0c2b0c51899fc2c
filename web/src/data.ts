/** The bundled real-MNIST sample, through the library's browser loader. */
import { loadMnistSample, type Dataset } from '../../ts/index.js';

/** Train (9,000) and test (1,000) splits of the sample. */
export function loadSample(): Promise<{ train: Dataset; test: Dataset }> {
  return loadMnistSample();
}
