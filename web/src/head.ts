// The trainable part of the detector in the page: a fixed standardization of the frozen backbone's embedding, then one
// linear layer, logits = weight . ((embedding - mean) / scale) + bias (rows by label). Its math is written out here
// because it is one matrix and a softmax: a training library (TensorFlow.js, ONNX Runtime's training build) would add
// megabytes to a page whose budget is 8 MB. tinydetect.web.head is its Python twin (its docstring says why the cut,
// the prior correction and the interleaving), and the browser tests check that both train to the same weights.

export interface Head {
  weight: number[][]; // labels x features: trained
  bias: number[]; // labels: trained
  mean: number[]; // features: fixed by the assets
  scale: number[]; // features: fixed by the assets
}

export interface Example {
  embedding: Float32Array | number[];
  label: number; // index into the labels (HUMAN 0, AI 1)
  cut: number; // the threshold of the text's language: the page labels AI from this p(AI) up
}

export interface TrainSettings {
  epochs: number;
  learning_rate: number;
  batch_size: number;
}

export interface TrainReport {
  head: Head;
  losses: number[]; // mean cross-entropy (at each example's cut) on the examples after each epoch
  epochMs: number[];
}

const AI = 1;
const PRIOR_CLIP = 0.05;

export function copyHead(head: Head): Head {
  return { weight: head.weight.map((row) => [...row]), bias: [...head.bias], mean: head.mean, scale: head.scale };
}

export function standardized(head: Head, embedding: ArrayLike<number>): number[] {
  return Array.from(head.mean, (mean, i) => (embedding[i] - mean) / head.scale[i]);
}

function linear(head: Head, features: number[]): number[] {
  return head.weight.map((row, label) => {
    let sum = head.bias[label];
    for (let i = 0; i < row.length; i++) sum += row[i] * features[i];
    return sum;
  });
}

export function logits(head: Head, embedding: ArrayLike<number>): number[] {
  return linear(head, standardized(head, embedding));
}

export function softmax(values: number[]): number[] {
  const top = Math.max(...values);
  const exps = values.map((value) => Math.exp(value - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((value) => value / total);
}

interface Prepared {
  features: number[];
  label: number;
  offset: number; // logit(cut)
}

function atCut(head: Head, { features, offset }: Prepared): number[] {
  const values = linear(head, features);
  values[AI] -= offset;
  return values;
}

function meanLoss(head: Head, examples: Prepared[]): number {
  const total = examples.reduce((sum, example) => sum - Math.log(softmax(atCut(head, example))[example.label]), 0);
  return total / examples.length;
}

/** Example indices taking the labels in turn (HUMAN, AI, HUMAN, ...), each label's examples in their order. */
export function interleaved(labels: number[]): number[] {
  const queues = [0, 1].map((value) => labels.flatMap((label, i) => (label === value ? [i] : [])));
  const order: number[] = [];
  while (queues.some((queue) => queue.length > 0)) for (const queue of queues) if (queue.length) order.push(queue.shift()!);
  return order;
}

function priorCorrected(head: Head, examples: Prepared[]): number[] {
  const logOdds = examples.map((example) => {
    const values = atCut(head, example);
    return values[AI] - values[1 - AI];
  });
  const meanLogOdds = logOdds.reduce((a, b) => a + b, 0) / logOdds.length;
  const aiShare = examples.filter((example) => example.label === AI).length / examples.length;
  const share = Math.min(Math.max(aiShare, PRIOR_CLIP), 1 - PRIOR_CLIP);
  const bias = [...head.bias];
  bias[AI] += Math.log(share / (1 - share)) - meanLogOdds;
  return bias;
}

/** Adam on the cross-entropy at each example's cut, after the prior correction, labels interleaved, its rate falling
 * linearly to zero over the run's steps (tinydetect.web.head says why). */
export function trainHead(start: Head, examples: Example[], settings: TrainSettings): TrainReport {
  if (examples.length === 0) throw new Error("no feedback to train on: mark some texts first");
  const prepared: Prepared[] = interleaved(examples.map((example) => example.label)).map((index) => ({
    features: standardized(start, examples[index].embedding),
    label: examples[index].label,
    offset: Math.log(examples[index].cut / (1 - examples[index].cut)),
  }));
  const head = copyHead(start);
  head.bias = priorCorrected(head, prepared);
  const adam = new Adam(head);
  const losses: number[] = [];
  const epochMs: number[] = [];
  const steps = settings.epochs * Math.ceil(prepared.length / settings.batch_size);
  let step = 0;
  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    const started = performance.now();
    for (let first = 0; first < prepared.length; first += settings.batch_size) {
      const rate = settings.learning_rate * (1 - step / steps);
      step += 1;
      adam.step(gradient(head, prepared.slice(first, first + settings.batch_size)), rate);
    }
    epochMs.push(performance.now() - started);
    losses.push(meanLoss(head, prepared));
  }
  return { head, losses, epochMs };
}

function gradient(head: Head, batch: Prepared[]): Head {
  const grad: Head = { ...head, weight: head.weight.map((row) => row.map(() => 0)), bias: head.bias.map(() => 0) };
  for (const example of batch) {
    const probabilities = softmax(atCut(head, example));
    probabilities.forEach((probability, row) => {
      const error = (probability - (row === example.label ? 1 : 0)) / batch.length; // d(mean loss)/d(logit)
      grad.bias[row] += error;
      for (let i = 0; i < example.features.length; i++) grad.weight[row][i] += error * example.features[i];
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

  constructor(private readonly head: Head) {
    const size = flatten(head).length;
    this.moments = { m: new Array(size).fill(0), v: new Array(size).fill(0) };
  }

  step(grad: Head, learningRate: number): void {
    this.t += 1;
    const params = flatten(this.head);
    const g = flatten(grad);
    const { m, v } = this.moments;
    for (let i = 0; i < params.length; i++) {
      m[i] = this.beta1 * m[i] + (1 - this.beta1) * g[i];
      v[i] = this.beta2 * v[i] + (1 - this.beta2) * g[i] * g[i];
      const mHat = m[i] / (1 - this.beta1 ** this.t);
      const vHat = v[i] / (1 - this.beta2 ** this.t);
      params[i] -= (learningRate * mHat) / (Math.sqrt(vHat) + this.epsilon);
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
