// Training the head on the user's corrections: one piece of code for the page (main.ts) and the extension.
import type { Detector } from "./detector";
import { type Example, type TrainReport, trainHead } from "./head";
import type { Feedback, Store } from "./store";

/** The corrections as training examples: each text's embedding, its label and its language's cut. */
export async function examples(detector: Detector, items: Feedback[]): Promise<Example[]> {
  const embedded: Example[] = [];
  for (const { text, label } of items) {
    embedded.push({ embedding: await detector.embed(text), label, cut: detector.cutFor(text) });
  }
  return embedded;
}

/** Stores one correction ("this text is HUMAN / AI"); the label must be one of the model's. */
export async function addCorrection(detector: Detector, store: Store, text: string, label: string): Promise<void> {
  const index = detector.config.labels.indexOf(label);
  if (index < 0) throw new Error(`unknown label ${label}: one of ${detector.config.labels.join(", ")}`);
  if (!text.trim()) throw new Error("no text to mark");
  await store.addFeedback({ text, label: index });
}

/** Trains the detector's head on every stored correction, applies it and saves it. */
export async function trainOnCorrections(detector: Detector, store: Store): Promise<TrainReport & { examples: number }> {
  const items = await store.feedback();
  const report = trainHead(detector.head, await examples(detector, items), detector.settings.train);
  detector.head = report.head;
  await store.saveHead(report.head, "feedback");
  return { ...report, examples: items.length };
}
