// The detector inside the extension: the web stage's assets (packaged under model/), the page's own code for
// scoring, sentences and training the head on corrections (web/src, shared, not copied). It runs in the offscreen
// document in Chromium (a service worker cannot host ONNX Runtime Web) and in the background page in Firefox.
import { Detector, cutsFor } from "../../web/src/detector";
import { addCorrection, trainOnCorrections } from "../../web/src/feedback";
import { scoreSentences } from "../../web/src/sentences";
import { Store } from "../../web/src/store";
import type { Result, SentenceScore } from "./messages";

// as tinydetect.api.MAX_TEXT_CHARS: what no model reads is never tokenized (code points)
const MAX_TEXT_CHARS = 32_768;

let loaded: Promise<{ detector: Detector; store: Store }> | null = null;

function load(): Promise<{ detector: Detector; store: Store }> {
  loaded ??= (async () => {
    // one WebAssembly thread: threads need a cross-origin isolated document, and one text at a time is fast enough
    const detector = await Detector.load(chrome.runtime.getURL("model/"), { threads: 1, backend: "wasm" });
    const store = await Store.open("tinydetect-extension"); // the extension's own IndexedDB, not the page's
    const saved = await store.loadHead();
    if (saved) detector.head = saved.head;
    return { detector, store };
  })();
  return loaded;
}

export function readablePart(text: string): string {
  const points = Array.from(text);
  return points.length > MAX_TEXT_CHARS ? points.slice(0, MAX_TEXT_CHARS).join("") : text;
}

/** The whole text's label (what the badge shows), without the sentences. */
export async function score(text: string): Promise<Result> {
  const { detector } = await load();
  const read = readablePart(text);
  const started = performance.now();
  const whole = await detector.score(read);
  detector.forget(); // the page's embedding cache would grow with every page read; corrections embed anew
  const cuts = cutsFor(detector.config, whole.language);
  return {
    label: whole.label, probability: whole.probability, reason: whole.reason, language: whole.language,
    aiCut: cuts.ai, humanCut: cuts.human, sentences: [], scoreMs: performance.now() - started, sentencesMs: 0,
  };
}

/** Each sentence's P(AI), read with its neighbours (the sentence view). */
export async function sentences(text: string): Promise<SentenceScore[]> {
  const { detector } = await load();
  const scores = await scoreSentences(detector, readablePart(text));
  detector.forget();
  return scores;
}

/** Loads the model ahead of the first page (automatic mode), so that page's badge does not wait for it. */
export async function warm(): Promise<void> {
  await load();
}

/** Stores the correction, retrains the head on all of them (as the page does) and scores the text again. */
export async function correct(text: string, label: "HUMAN" | "AI"): Promise<Result> {
  const { detector, store } = await load();
  await addCorrection(detector, store, readablePart(text), label);
  await trainOnCorrections(detector, store);
  return { ...(await score(text)), sentences: await sentences(text) };
}

export async function forget(): Promise<void> {
  const { detector, store } = await load();
  await store.clear();
  detector.head = detector.shippedHead;
  detector.forget();
}
