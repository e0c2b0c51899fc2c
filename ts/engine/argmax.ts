/** The index of the largest of v[from..from+k), the first one on ties (as PyTorch's argmax): a row's predicted class. */
export function argmax(v: ArrayLike<number>, from: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (v[from + j] > v[from + best]) best = j;
  return best;
}
