/** Messages between the page and the training worker. */
export type ToWorker =
  | { type: 'init'; backend: 'auto' | 'relaxed' | 'simd' | 'scalar'; model: string; seed: number }
  | { type: 'train'; epochs: number; batchSize: number; lr: number; workers: number }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'predict'; pixels: Uint8Array }
  | { type: 'save' }
  | { type: 'load'; bytes: Uint8Array }
  | { type: 'bench'; workers: number }
  | { type: 'hash'; backend: 'relaxed' | 'simd' | 'scalar'; model: string; seed: number; steps: number; workers: number }
  /** Your own images: the chosen folder's files with their paths. */
  | { type: 'own-pictures'; files: { path: string; file: Blob }[]; imageSize: number; valSize: number; fit: 'resize' | 'crop' }
  | { type: 'own-train'; model: string; epochs: number; lr: number; workers: number }
  | { type: 'own-save'; name: string }
  | { type: 'own-load'; name: string }
  | { type: 'own-classify'; file: Blob; name: string }
  | { type: 'own-bytes' };

/** Activations of one layer for one image. */
export interface LayerMaps { name: string; kind: string; shape: number[]; data: Float32Array }

export type FromWorker =
  | { type: 'ready'; backend: string; model: string; presets: string[]; summary: string; train: number; test: number; lr: number; batchSize: number; epochs: number }
  | { type: 'progress'; epoch: number; epochs: number; batch: number; batches: number; loss: number; accuracy: number; imagesPerSecond: number }
  | { type: 'epoch'; epoch: number; loss: number; accuracy: number; testLoss: number; testAccuracy: number; imagesPerSecond: number }
  | { type: 'done'; testAccuracy: number; stopped: boolean }
  | { type: 'prediction'; probs: Float32Array; maps: LayerMaps[] }
  | { type: 'filters'; layers: LayerMaps[] }
  | { type: 'saved'; bytes: Uint8Array }
  /** Training images/s of each build (null: this browser cannot run it); `parallel`: `workers` workers against one, on the fastest build. */
  | { type: 'bench'; relaxed: number | null; simd: number | null; scalar: number; workers: number; parallel: number | null }
  | { type: 'hash'; hex: string }
  /** The held-out view during training: guesses on a fixed grid of test digits, the confusion matrix on all of them, the worst mistakes, per-layer gradient norms. */
  | { type: 'insight'; step: number; grid: { images: Uint8Array; labels: number[]; guesses: number[]; confidence: number[] };
      confusion: number[]; accuracy: number; mistakes: { image: Uint8Array; label: number; guess: number; confidence: number }[];
      gradients: { name: string; norm: number }[];
      /** ms per image of the forward pass alone (the held-out pass, inference form, one thread). */
      forwardMs: number }
  | { type: 'error'; message: string }
  | { type: 'own-pictures'; classNames: string[]; shape: number[]; train: number; heldOut: number; heldOutKind: 'test folder' | 'hold-out'; skipped: { file: string; reason: string }[];
      /** SHA-256 of the training pixels and labels, for comparing with Node's loadImageFolder. */
      pixelsHash: string }
  | { type: 'own-progress'; epoch: number; epochs: number; batch: number; batches: number; loss: number }
  | { type: 'own-done'; classNames: string[]; confusion: number[]; accuracy: number; epochs: number; stopped: boolean }
  | { type: 'own-saved'; url: string; bytes: number }
  | { type: 'own-loaded'; url: string; classNames: string[]; shape: number[]; summary: string }
  | { type: 'own-prediction'; name: string; classNames: string[]; probs: Float32Array }
  | { type: 'own-bytes'; bytes: Uint8Array }
  | { type: 'own-error'; message: string };
