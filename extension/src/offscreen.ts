// The offscreen document (Chromium): hosts the scorer for the service worker, which cannot run ONNX Runtime Web.
import type { Request } from "./messages";
import { correct, forget, score, sentences, warm } from "./scorer";

chrome.runtime.onMessage.addListener((message: Request, _sender, reply) => {
  if (message.type !== "scorer") return false;
  const work = message.action === "score" ? score(message.text)
    : message.action === "sentences" ? sentences(message.text)
      : message.action === "correct" ? correct(message.text, message.label)
        : message.action === "warm" ? warm() : forget();
  work.then((value) => reply({ ok: true, value }), (error: Error) => reply({ ok: false, error: error.message }));
  return true; // the reply comes later
});
