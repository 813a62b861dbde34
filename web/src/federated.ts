// A browser client of federated averaging (`tinydetect federated server`, on Flower): it trains the global head on
// this browser's feedback and sends only the change (the delta), clipped and noised when the settings ask for
// differential privacy, and quantized to INT8 with one scale per tensor. Texts and embeddings never leave the page.
// tinydetect.federated.update is the Python side of this wire format.
import { type Example, type Head, type TrainSettings, flatten, trainHead } from "./head";

export interface UpdateSettings {
  delta_bits: 8 | 32; // 8: INT8 with a scale per tensor; 32: float32 as it is
  clip_norm: number; // 0: no clipping; else the delta's L2 norm is cut to this
  noise_multiplier: number; // Gaussian noise of std noise_multiplier x clip_norm on the clipped delta (0: none)
}

export interface WireTensor {
  shape: number[];
  dtype: "int8" | "float32";
  scale: number;
  data: string; // base64 of the values, row-major
}

export interface RoundResult {
  round: number;
  bytesSent: number;
  head: Head; // the new global head, after the round
}

export function privatize(delta: number[], settings: UpdateSettings): number[] {
  let values = delta;
  if (settings.clip_norm > 0) {
    const norm = Math.sqrt(values.reduce((sum, value) => sum + value * value, 0));
    const factor = Math.min(1, settings.clip_norm / Math.max(norm, 1e-12));
    values = values.map((value) => value * factor);
  }
  if (settings.noise_multiplier > 0) {
    const std = settings.noise_multiplier * settings.clip_norm;
    values = values.map((value) => value + std * gaussian());
  }
  return values;
}

/** The delta as Flower's parameter list holds the head: [weight (labels x features), bias (labels)]. */
export function encodeDelta(delta: number[], head: Head, bits: 8 | 32): WireTensor[] {
  const width = head.weight[0].length;
  const cut = head.weight.length * width;
  return [
    encodeTensor(delta.slice(0, cut), [head.weight.length, width], bits),
    encodeTensor(delta.slice(cut), [head.bias.length], bits),
  ];
}

function encodeTensor(values: number[], shape: number[], bits: 8 | 32): WireTensor {
  if (bits === 32) return { shape, dtype: "float32", scale: 1, data: base64(new Uint8Array(Float32Array.from(values).buffer)) };
  const largest = Math.max(...values.map(Math.abs));
  const scale = largest > 0 ? largest / 127 : 1;
  const quantized = Int8Array.from(values, (value) => Math.max(-127, Math.min(127, Math.round(value / scale))));
  return { shape, dtype: "int8", scale, data: base64(new Uint8Array(quantized.buffer)) };
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  bytes.forEach((byte) => (binary += String.fromCharCode(byte)));
  return btoa(binary);
}

function gaussian(): number {
  // Box-Muller on the browser's cryptographic generator
  const [a, b] = crypto.getRandomValues(new Uint32Array(2));
  const u = (a + 1) / 4294967297;
  const v = (b + 1) / 4294967297;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

async function call<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}: ${body.error ?? response.statusText}`);
  return body as T;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface FederateOptions {
  server: string; // the FL server's address, "" for the page's own origin
  token: string; // the operator's enrolment token: it buys a client id and a secret of our own
  standardization: Pick<Head, "mean" | "scale">; // the assets' own: the server sends and averages weight and bias
  examples: Example[];
  train: TrainSettings;
  update: UpdateSettings;
  timeoutMs: number;
  onStatus?: (status: string) => void;
}

/** Join the next round: register, wait for the round's global head, train on it, send the delta, pull the result. */
export async function federate(options: FederateOptions): Promise<RoundResult> {
  const { server } = options;
  const say = options.onStatus ?? (() => {});
  const post = (body: string, credential: string): RequestInit => ({
    method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${credential}` }, body,
  });
  // the server names us and gives us a secret; every later call proves who we are with it
  const { client_id: clientId, secret } = await call<{ client_id: string; secret: string }>(
    `${server}/api/register`, post("{}", options.token));
  const asClient: RequestInit = { headers: { Authorization: `Bearer ${secret}` } };
  const deadline = performance.now() + options.timeoutMs;
  say("registered: waiting for the round to start");
  let task: { status: string; round: number; head?: Pick<Head, "weight" | "bias"> };
  for (;;) {
    task = await call(`${server}/api/task?client_id=${encodeURIComponent(clientId)}`, asClient);
    if (task.status === "train") break;
    if (performance.now() > deadline) throw new Error("the round did not start in time");
    await sleep(100);
  }
  const global: Head = { ...options.standardization, weight: task.head!.weight, bias: task.head!.bias };
  say(`round ${task.round}: training on ${options.examples.length} examples`);
  const trained = trainHead(global, options.examples, options.train).head;
  const before = flatten(global);
  const delta = privatize(flatten(trained).map((value, i) => value - before[i]), options.update);
  const body = JSON.stringify({
    client_id: clientId, round: task.round, num_examples: options.examples.length,
    tensors: encodeDelta(delta, global, options.update.delta_bits),
  });
  await call(`${server}/api/update`, post(body, secret));
  say(`round ${task.round}: update sent (${body.length} bytes), waiting for the other clients`);
  for (;;) {
    const latest = await call<{ round: number } & Pick<Head, "weight" | "bias">>(`${server}/api/head`);
    if (latest.round >= task.round) {
      const head = { ...options.standardization, weight: latest.weight, bias: latest.bias };
      return { round: latest.round, bytesSent: body.length, head };
    }
    if (performance.now() > deadline) throw new Error("the round did not close in time");
    await sleep(100);
  }
}
