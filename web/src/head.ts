// The trainable part of the detector in the page: one linear layer over the frozen backbone's embedding,
// logits = weight . embedding + bias (rows by label). Its math is written out here because it is one matrix and a
// softmax: a training library (TensorFlow.js, ONNX Runtime's training build) would add megabytes to a page whose budget
// is 8 MB. tinydetect.web.head is its Python twin, and the browser tests check that both train to the same weights.

export interface Head {
  weight: number[][]; // labels x features
  bias: number[]; // labels
}

export interface Example {
  embedding: Float32Array | number[];
  label: number; // index into the labels
}

export interface TrainSettings {
  epochs: number;
  learning_rate: number;
  batch_size: number;
}

export interface TrainReport {
  head: Head;
  losses: number[]; // mean cross-entropy on the examples after each epoch
  epochMs: number[];
}

export function copyHead(head: Head): Head {
  return { weight: head.weight.map((row) => [...row]), bias: [...head.bias] };
}

export function logits(head: Head, embedding: ArrayLike<number>): number[] {
  return head.weight.map((row, label) => {
    let sum = head.bias[label];
    for (let i = 0; i < row.length; i++) sum += row[i] * embedding[i];
    return sum;
  });
}

export function softmax(values: number[]): number[] {
  const top = Math.max(...values);
  const exps = values.map((value) => Math.exp(value - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((value) => value / total);
}

export function meanLoss(head: Head, examples: Example[]): number {
  const total = examples.reduce((sum, { embedding, label }) => sum - Math.log(softmax(logits(head, embedding))[label]), 0);
  return total / examples.length;
}

/** Adam on the mean cross-entropy, mini-batches in the examples' order (no shuffling: the Python twin gives the
 * same weights), from a copy of `start`. */
export function trainHead(start: Head, examples: Example[], settings: TrainSettings): TrainReport {
  if (examples.length === 0) throw new Error("no feedback to train on: mark some texts first");
  const head = copyHead(start);
  const adam = new Adam(head, settings.learning_rate);
  const losses: number[] = [];
  const epochMs: number[] = [];
  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    const started = performance.now();
    for (let first = 0; first < examples.length; first += settings.batch_size) {
      adam.step(gradient(head, examples.slice(first, first + settings.batch_size)));
    }
    epochMs.push(performance.now() - started);
    losses.push(meanLoss(head, examples));
  }
  return { head, losses, epochMs };
}

function gradient(head: Head, batch: Example[]): Head {
  const grad: Head = { weight: head.weight.map((row) => row.map(() => 0)), bias: head.bias.map(() => 0) };
  for (const { embedding, label } of batch) {
    const probabilities = softmax(logits(head, embedding));
    probabilities.forEach((probability, row) => {
      const error = (probability - (row === label ? 1 : 0)) / batch.length; // d(mean loss)/d(logit)
      grad.bias[row] += error;
      for (let i = 0; i < embedding.length; i++) grad.weight[row][i] += error * embedding[i];
    });
  }
  return grad;
}

class Adam {
  private readonly beta1 = 0.9;
  private readonly beta2 = 0.999;
  private readonly epsilon = 1e-8;
  private readonly moments: { m: number[]; v: number[] };
  private t = 0;

  constructor(private readonly head: Head, private readonly learningRate: number) {
    const size = flatten(head).length;
    this.moments = { m: new Array(size).fill(0), v: new Array(size).fill(0) };
  }

  step(grad: Head): void {
    this.t += 1;
    const params = flatten(this.head);
    const g = flatten(grad);
    const { m, v } = this.moments;
    for (let i = 0; i < params.length; i++) {
      m[i] = this.beta1 * m[i] + (1 - this.beta1) * g[i];
      v[i] = this.beta2 * v[i] + (1 - this.beta2) * g[i] * g[i];
      const mHat = m[i] / (1 - this.beta1 ** this.t);
      const vHat = v[i] / (1 - this.beta2 ** this.t);
      params[i] -= (this.learningRate * mHat) / (Math.sqrt(vHat) + this.epsilon);
    }
    unflattenInto(this.head, params);
  }
}

/** weight row by row, then bias: the order every update on the wire uses too. */
export function flatten(head: Head): number[] {
  return [...head.weight.flat(), ...head.bias];
}

export function unflattenInto(head: Head, values: number[]): void {
  const width = head.weight[0].length;
  head.weight.forEach((row, r) => row.forEach((_, i) => (row[i] = values[r * width + i])));
  head.bias.forEach((_, r) => (head.bias[r] = values[head.weight.length * width + r]));
}
