// The detector in the page: the `web` stage's assets (web/public/model/), the backbone on ONNX Runtime Web (WebGPU
// when the browser has an adapter, WebAssembly otherwise), the head in head.ts.
import type { InferenceSession, Tensor } from "onnxruntime-web";
import { type Head, logits, softmax } from "./head";
import { DetectorTokenizer } from "./tokenizer";

export interface DetectorJson {
  threshold: number;
  thresholds_by_language?: Record<string, number>;
  // three labels (absent from assets written before them: AI or HUMAN only)
  human_threshold?: number;
  human_thresholds_by_language?: Record<string, number>;
  languages?: string[];
  min_words?: number;
  familiarity?: FamiliarityJson;
  labels: string[];
  positive_label: string;
}

export interface Settings {
  train: { epochs: number; learning_rate: number; batch_size: number };
  federated: { delta_bits: 8 | 32; clip_norm: number; noise_multiplier: number };
}

export interface Score {
  probability: number; // p(AI)
  label: string; // AI, HUMAN or UNSURE
  reason: string | null; // why UNSURE
  language: string;
  ms: number; // tokenizer + backbone + head
}

export interface LoadOptions {
  threads: number; // WebAssembly threads; 0: ONNX Runtime's default
  backend: "auto" | "wasm" | "webgpu";
}

type Runtime = typeof import("onnxruntime-web");

export class Detector {
  private readonly embeddings = new Map<string, Float32Array>(); // feedback is embedded once

  private constructor(
    private readonly runtime: Runtime,
    private readonly session: InferenceSession,
    readonly tokenizer: DetectorTokenizer,
    readonly shippedHead: Head,
    readonly config: DetectorJson,
    readonly settings: Settings,
    readonly backend: string,
    public head: Head,
    readonly familiarity: Familiarity | null,
  ) {}

  static async load(base: string, options: LoadOptions): Promise<Detector> {
    const fetchJson = async (name: string) => {
      const response = await fetch(`${base}${name}`);
      if (!response.ok) throw new Error(`${base}${name}: HTTP ${response.status} (did \`dvc repro\` write the web assets?)`);
      return response.json();
    };
    const [tokenizerJson, charmap, head, config, settings] = await Promise.all(
      ["tokenizer.json", "charmap.json", "head.json", "detector.json", "settings.json"].map(fetchJson),
    );
    const backend = options.backend === "auto" ? ((await hasWebGPU()) ? "webgpu" : "wasm") : options.backend;
    // each bundle carries its own WebAssembly build: only the one in use is downloaded
    const runtime: Runtime = backend === "webgpu" ? await import("onnxruntime-web/webgpu") : await import("onnxruntime-web/wasm");
    if (options.threads > 0) runtime.env.wasm.numThreads = options.threads;
    const model = await fetch(`${base}backbone.onnx`).then((response) => response.arrayBuffer());
    const session = await runtime.InferenceSession.create(model, {
      executionProviders: backend === "webgpu" ? ["webgpu", "wasm"] : ["wasm"],
      graphOptimizationLevel: "all",
    });
    const familiarity = config.familiarity ? await Familiarity.load(config.familiarity) : null;
    return new Detector(runtime, session, new DetectorTokenizer(tokenizerJson, charmap), head, config, settings,
      backend, head, familiarity);
  }

  get threads(): number {
    return this.runtime.env.wasm.numThreads ?? 1;
  }

  async embed(text: string): Promise<Float32Array> {
    const cached = this.embeddings.get(text);
    if (cached) return cached;
    const ids = this.tokenizer.encode(text);
    const shape = [1, ids.length];
    const feeds: Record<string, Tensor> = {
      input_ids: new this.runtime.Tensor("int64", BigInt64Array.from(ids, BigInt), shape),
      attention_mask: new this.runtime.Tensor("int64", new BigInt64Array(ids.length).fill(1n), shape),
    };
    const output = await this.session.run(feeds);
    const embedding = Float32Array.from(output.embedding.data as Float32Array);
    this.embeddings.set(text, embedding);
    return embedding;
  }

  forget(): void {
    this.embeddings.clear();
  }

  probabilityOf(embedding: ArrayLike<number>): number {
    const probabilities = softmax(logits(this.head, embedding));
    return probabilities[this.config.labels.indexOf(this.config.positive_label)];
  }

  /** The threshold of the text's language (the pooled one where its language has none). */
  cutFor(text: string): number {
    return this.config.thresholds_by_language?.[guessLanguage(text)] ?? this.config.threshold;
  }

  async score(text: string): Promise<Score> {
    const started = performance.now();
    this.embeddings.delete(text); // a timed score runs the backbone
    const probability = this.probabilityOf(await this.embed(text));
    const ms = performance.now() - started;
    const label = labelOf(this.config, probability, text, this.familiarity);
    return { probability, ...label, language: guessLanguage(text), ms };
  }
}

async function hasWebGPU(): Promise<boolean> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

const LETTER = /[\p{L}\p{Nl}\p{No}]/gu; // Python's [^\W\d_]: letters and non-decimal numbers
const HANGUL = /[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]/gu;

/** tinydetect.core.records.guess_lang: Korean when over 30% of the letters are Hangul. */
export function guessLanguage(text: string): string {
  const letters = text.match(LETTER)?.length ?? 0;
  const hangul = text.match(HANGUL)?.length ?? 0;
  return letters > 0 && hangul / letters > 0.3 ? "ko" : "en";
}

const LATIN = /[A-Za-z\u00c0-\u024f]/gu;
const count = (text: string, pattern: RegExp) => text.match(pattern)?.length ?? 0;

/** tinydetect.core.records.script_language: "ko" or "en" by script, null for any other script or none. */
export function scriptLanguage(text: string): string | null {
  const letters = count(text, LETTER);
  if (letters === 0) return null;
  const hangul = count(text, HANGUL);
  if (hangul + count(text, LATIN) < letters / 2) return null;
  return hangul / letters > 0.3 ? "ko" : "en";
}

// the reasons of tinydetect.decision.threshold, word for word: every surface says the same
export const BETWEEN_CUTS = "between the cuts";
export const UNSEEN_SCRIPT = "a script the model has no cut for";
export const UNSEEN_LANGUAGE = "a language the model has no cut for";
export const TOO_SHORT = "too few words to judge";
export const UNFAMILIAR = "unlike the texts the model was trained on";

/** The AI and HUMAN cuts of a language (the pooled ones where it has none; the AI cut for HUMAN in assets written
 * before three labels). */
export function cutsFor(config: DetectorJson, language: string): { ai: number; human: number } {
  const ai = config.thresholds_by_language?.[language] ?? config.threshold;
  return { ai, human: config.human_thresholds_by_language?.[language] ?? config.human_threshold ?? ai };
}

/** tinydetect.decision.threshold.Threshold.label, the one rule of every surface: AI above the AI cut (the cut
 * itself is not), HUMAN at or below the HUMAN cut, UNSURE between and for texts the cuts say nothing about. */
export function labelOf(config: DetectorJson, probability: number, text: string,
  familiarity: Familiarity | null = null): { label: string; reason: string | null } {
  const script = scriptLanguage(text);
  const language = script ?? guessLanguage(text);
  const { ai: aiCut, human: humanCut } = cutsFor(config, language);
  const ai = config.positive_label;
  const human = config.labels.find((label) => label !== ai)!;
  if (config.human_threshold === undefined) return { label: probability > aiCut ? ai : human, reason: null };
  if (script === null) return { label: "UNSURE", reason: UNSEEN_SCRIPT };
  if (config.languages?.length && !config.languages.includes(language)) {
    return { label: "UNSURE", reason: `${UNSEEN_LANGUAGE}: ${language}` };
  }
  if (text.split(/\s+/).filter(Boolean).length < (config.min_words ?? 0)) return { label: "UNSURE", reason: TOO_SHORT };
  if (familiarity?.isUnfamiliar(text, language)) return { label: "UNSURE", reason: UNFAMILIAR };
  if (probability > aiCut) return { label: ai, reason: null };
  return probability <= humanCut ? { label: human, reason: null } : { label: "UNSURE", reason: BETWEEN_CUTS };
}

// tinydetect.decision.familiarity, line for line: the share of a text's words the train split never held
export interface FamiliarityJson {
  hash: string; // "fnv1a32-<bits>"
  max_words: number;
  cut: number;
  cut_by_language: Record<string, number>;
  val_share: number;
  seen_words: string; // base64 of the zlib-compressed bitmap of the train words' hashes
}

const HASH_BITS = 20;
const MAX_WORDS = 1000;
const WORD = /[\p{L}\p{Nl}\p{No}]+/gu; // Python's [^\W\d_]+
const utf8 = new TextEncoder();

/** FNV-1a (32 bits) of the word's UTF-8 bytes, to HASH_BITS bits (familiarity.word_hash). */
export function wordHash(word: string): number {
  let value = 0x811c9dc5;
  for (const byte of utf8.encode(word)) value = Math.imul(value ^ byte, 0x01000193) >>> 0;
  return value & ((1 << HASH_BITS) - 1);
}

/** Runs of letters of the NFKC, lower-cased text, its first MAX_WORDS (familiarity.words). */
export function wordsOf(text: string): string[] {
  const head = Array.from(text).slice(0, MAX_WORDS * 64).join(""); // Python slices code points
  const found: string[] = [];
  for (const match of head.normalize("NFKC").toLowerCase().matchAll(WORD)) {
    found.push(match[0]);
    if (found.length === MAX_WORDS) break;
  }
  return found;
}

export class Familiarity {
  private constructor(
    private readonly seen: Uint8Array, // bit i of byte i >> 3 (numpy's packbits, little bit order)
    readonly config: FamiliarityJson,
  ) {}

  static async load(config: FamiliarityJson): Promise<Familiarity> {
    if (config.hash !== `fnv1a32-${HASH_BITS}` || config.max_words !== MAX_WORDS) {
      throw new Error(`detector.json: familiarity ${config.hash}/${config.max_words}; this page reads fnv1a32-${HASH_BITS}/${MAX_WORDS}`);
    }
    const packed = Uint8Array.from(atob(config.seen_words), (char) => char.charCodeAt(0));
    // "deflate" is the zlib format (RFC 1950) Python's zlib.compress writes
    const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Familiarity(new Uint8Array(await new Response(stream).arrayBuffer()), config);
  }

  unseenShare(text: string): number {
    const hashes = wordsOf(text).map(wordHash);
    if (hashes.length === 0) return 1.0;
    const unseen = hashes.filter((hash) => ((this.seen[hash >> 3] >> (hash & 7)) & 1) === 0).length;
    return unseen / hashes.length;
  }

  isUnfamiliar(text: string, language: string): boolean {
    return this.unseenShare(text) > (this.config.cut_by_language[language] ?? this.config.cut);
  }
}
