import { cpSync, existsSync } from "node:fs";
import { resolve } from "node:path";
import { defineConfig, type Plugin } from "vite";

// The web stage's assets (tokenizer, backbone, head, cuts), packaged with the extension: nothing is fetched from a
// server. TINYDETECT_WEB_ASSETS points elsewhere (the tests' tiny model); the default is what `dvc repro` wrote.
const assets = resolve(process.env.TINYDETECT_WEB_ASSETS ?? resolve(import.meta.dirname, "../web/public/model"));

function packageModel(): Plugin {
  let outDir = "dist";
  return {
    name: "tinydetect-package-model",
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      if (!existsSync(resolve(assets, "detector.json"))) {
        throw new Error(`${assets}: no web assets (run \`dvc repro web\`, or set TINYDETECT_WEB_ASSETS)`);
      }
      cpSync(assets, resolve(outDir, "model"), { recursive: true });
    },
  };
}

export default defineConfig({
  base: "./",
  publicDir: "public", // manifest.json
  resolve: {
    // one ONNX Runtime build, WebAssembly without threads' extras: the WebGPU bundle would add its own 26 MB .wasm
    alias: { "onnxruntime-web/webgpu": "onnxruntime-web/wasm" },
  },
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
    modulePreload: false, // extension pages load their chunks from the package; no preload polyfill needed
    rollupOptions: {
      input: {
        popup: resolve(import.meta.dirname, "popup.html"),
        options: resolve(import.meta.dirname, "options.html"),
        offscreen: resolve(import.meta.dirname, "offscreen.html"),
        background: resolve(import.meta.dirname, "src/background.ts"),
      },
      // the manifest names background.js; everything else may carry a hash
      output: { entryFileNames: (chunk) => (chunk.name === "background" ? "background.js" : "assets/[name]-[hash].js") },
    },
  },
  plugins: [packageModel()],
});
