// The page: score a pasted text, correct its label, train the head on the corrections, keep it in IndexedDB, join a
// federated round. Everything the buttons do is also on `window.tinydetect`, which the browser tests drive.
//
// URL parameters: model=<folder of the web assets> (default model/), threads=<n> (WebAssembly threads; default all
// cores when the page is cross-origin isolated, else 1), backend=auto|wasm|webgpu, db=<IndexedDB name>.
import { Detector, cutsFor, guessLanguage } from "./detector";
import { addCorrection, examples, trainOnCorrections } from "./feedback";
import { federate } from "./federated";
import { type Example, type Head, trainHead } from "./head";
import { type SentenceScore, scoreSentences, sentences } from "./sentences";
import { type Feedback, Store } from "./store";

const params = new URLSearchParams(location.search);
const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  status: element("status"), text: element<HTMLTextAreaElement>("text"), score: element<HTMLButtonElement>("score"),
  result: element("result"), sentences: element("sentences"), markHuman: element<HTMLButtonElement>("mark-human"),
  markAi: element<HTMLButtonElement>("mark-ai"), feedbackCount: element("feedback-count"),
  train: element<HTMLButtonElement>("train"), reset: element<HTMLButtonElement>("reset"),
  trainReport: element("train-report"), flServer: element<HTMLInputElement>("fl-server"),
  flToken: element<HTMLInputElement>("fl-token"),
  federate: element<HTMLButtonElement>("federate"), flStatus: element("fl-status"), runtime: element("runtime"),
};

let detector: Detector;
let store: Store;
let headSource = "shipped";
let lastTraining: { examples: number; losses: number[]; epochMs: number[] } | null = null;

async function start(): Promise<void> {
  const threads = Number(params.get("threads") ?? (crossOriginIsolated ? navigator.hardwareConcurrency : 1));
  const backend = (params.get("backend") ?? "auto") as "auto" | "wasm" | "webgpu";
  detector = await Detector.load(params.get("model") ?? "model/", { threads, backend });
  store = await Store.open(params.get("db") ?? "tinydetect");
  const saved = await store.loadHead();
  if (saved) {
    detector.head = saved.head;
    headSource = `${saved.source}, saved ${saved.savedAt}`;
  }
  await showFeedbackCount();
  for (const button of [ui.score, ui.markHuman, ui.markAi, ui.train, ui.reset, ui.federate]) button.disabled = false;
  ui.status.textContent = "ready";
  showRuntime();
}

function showRuntime(): void {
  ui.runtime.textContent = `ONNX Runtime Web on ${detector.backend}, ${detector.threads} thread(s); ` +
    `head: ${headSource}; everything runs in this browser`;
}

async function showFeedbackCount(): Promise<Feedback[]> {
  const items = await store.feedback();
  ui.feedbackCount.textContent = `${items.length} corrected example${items.length === 1 ? "" : "s"}`;
  return items;
}

async function scoreText(): Promise<void> {
  const text = ui.text.value.trim();
  if (!text) return;
  const score = await detector.score(text);
  const why = score.reason ? ` (${score.reason})` : "";
  ui.result.textContent = `${score.label}${why}: p(AI) = ${score.probability.toFixed(3)} (${score.ms.toFixed(1)} ms)`;
  ui.result.className = score.label.toLowerCase(); // ai, human or unsure
  showSentences(text, await scoreSentences(detector, text));
}

/** The text again, each sentence coloured as the extension highlights it: above the AI cut red, between the cuts
 * grey (the cuts of the text's language). Text nodes only: the pasted text is never parsed as HTML. */
function showSentences(text: string, scores: SentenceScore[]): void {
  const { ai: aiCut, human: humanCut } = cutsFor(detector.config, guessLanguage(text));
  const pieces: Node[] = [];
  let at = 0;
  for (const sentence of scores) {
    pieces.push(document.createTextNode(text.slice(at, sentence.start)));
    const span = document.createElement("span");
    span.className = sentence.p_ai > aiCut ? "ai" : sentence.p_ai > humanCut ? "unsure" : "human";
    span.title = `P(AI) ${sentence.p_ai.toFixed(3)}`;
    span.textContent = text.slice(sentence.start, sentence.end);
    pieces.push(span);
    at = sentence.end;
  }
  pieces.push(document.createTextNode(text.slice(at)));
  ui.sentences.replaceChildren(...pieces);
}

async function mark(text: string, label: string): Promise<void> {
  await addCorrection(detector, store, text, label);
  await showFeedbackCount();
}

async function train() {
  const report = await trainOnCorrections(detector, store);
  headSource = `feedback (${report.examples} examples)`;
  const perEpoch = report.epochMs.reduce((a, b) => a + b, 0) / report.epochMs.length;
  ui.trainReport.textContent = `${report.losses.length} epochs, loss ${report.losses.at(-1)!.toFixed(3)}, ` +
    `${perEpoch.toFixed(1)} ms an epoch`;
  showRuntime();
  lastTraining = { examples: report.examples, losses: report.losses, epochMs: report.epochMs };
  return lastTraining;
}

async function reset(): Promise<void> {
  await store.clear();
  detector.head = detector.shippedHead;
  detector.forget();
  headSource = "shipped";
  ui.trainReport.textContent = "";
  await showFeedbackCount();
  showRuntime();
}

async function joinRound(server: string, token: string) {
  const result = await federate({
    server, token, standardization: detector.head, examples: await examples(detector, await store.feedback()),
    train: detector.settings.train,
    update: detector.settings.federated, timeoutMs: Number(params.get("fl_timeout_ms") ?? 120000),
    onStatus: (status) => (ui.flStatus.textContent = status),
  });
  detector.head = result.head;
  await store.saveHead(result.head, `federated round ${result.round}`);
  headSource = `federated round ${result.round}`;
  ui.flStatus.textContent = `round ${result.round} closed: new global head applied (${result.bytesSent} bytes sent)`;
  showRuntime();
  return result;
}

function guard(action: () => Promise<unknown>): () => Promise<void> {
  return async () => {
    try {
      await action();
    } catch (error) {
      ui.status.textContent = `error: ${(error as Error).message}`;
    }
  };
}

ui.score.addEventListener("click", guard(scoreText));
ui.markHuman.addEventListener("click", guard(() => mark(ui.text.value, "HUMAN")));
ui.markAi.addEventListener("click", guard(() => mark(ui.text.value, "AI")));
ui.train.addEventListener("click", guard(train));
ui.reset.addEventListener("click", guard(reset));
// the operator's join link carries the enrolment token (?fl_token=...); otherwise it is typed in
ui.flToken.value = params.get("fl_token") ?? "";
ui.federate.addEventListener("click", guard(() => joinRound(ui.flServer.value.trim(), ui.flToken.value.trim())));

const ready = start().catch((error) => {
  ui.status.textContent = `error: ${error.message}`;
  throw error;
});

// For scripts and the browser tests: the same actions as the buttons, on lists of texts.
Object.assign(window, {
  tinydetect: {
    ready,
    info: () => ({ backend: detector.backend, threads: detector.threads, crossOriginIsolated, headSource }),
    ids: (texts: string[]) => texts.map((text) => detector.tokenizer.encode(text)),
    embed: async (texts: string[]) => {
      const rows = [];
      for (const text of texts) rows.push([...(await detector.embed(text))]);
      return rows;
    },
    score: async (texts: string[]) => {
      const scores = [];
      for (const text of texts) scores.push(await detector.score(text));
      return scores;
    },
    sentences: (texts: string[]) => texts.map(sentences),
    scoreSentences: async (texts: string[]) => {
      const rows = [];
      for (const text of texts) rows.push(await scoreSentences(detector, text));
      return rows;
    },
    mark: async (items: { text: string; label: string }[]) => {
      for (const { text, label } of items) await mark(text, label);
    },
    train,
    lastTraining: () => lastTraining,
    trainOn: (start: Head, items: Example[]) => trainHead(start, items, detector.settings.train),
    head: () => detector.head,
    federate: joinRound,
    reset,
  },
});
