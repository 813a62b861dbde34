// Settings: on click (activeTab, no site access) or automatic on the sites the user lists and grants.
import { type Request, type Settings, loadSettings } from "./messages";

const sites = document.getElementById("sites") as HTMLTextAreaElement;
const status = document.getElementById("status") as HTMLElement;
const modeInputs = [...document.querySelectorAll<HTMLInputElement>("input[name=mode]")];

async function send(message: Request): Promise<unknown> {
  const reply = await chrome.runtime.sendMessage(message);
  if (!reply?.ok) throw new Error(reply?.error ?? "the extension did not answer");
  return reply.value;
}

async function save(): Promise<void> {
  const settings: Settings = {
    mode: (modeInputs.find((input) => input.checked)?.value ?? "click") as Settings["mode"],
    sites: sites.value.split("\n").map((line) => line.trim()).filter(Boolean),
  };
  // asked in the click's own task: browsers grant permissions only in answer to a user's gesture
  const granted = settings.mode === "click" || await chrome.permissions.request({ origins: settings.sites });
  await chrome.storage.local.set({ settings });
  const running = (await send({ type: "settings-changed" })) as string[];
  status.textContent = settings.mode === "click" ? "Saved: pages are checked when you click the toolbar button."
    : granted ? `Saved: checking pages automatically on ${running.join(", ")}.`
      : "Saved, but the sites were not granted: pages are checked only when you click.";
}

async function main(): Promise<void> {
  const settings = await loadSettings();
  for (const input of modeInputs) input.checked = input.value === settings.mode;
  sites.value = settings.sites.join("\n");
  document.getElementById("save")!.addEventListener("click", () => save().catch((e) => (status.textContent = `error: ${e.message}`)));
  document.getElementById("forget")!.addEventListener("click", () => send({ type: "forget-corrections" })
    .then(() => (status.textContent = "Your corrections are forgotten; the shipped model is back."))
    .catch((e) => (status.textContent = `error: ${e.message}`)));
}

void main();
