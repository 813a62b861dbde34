import { defineConfig } from "vite";

// Multi-threaded WebAssembly needs SharedArrayBuffer, which browsers give only to a cross-origin isolated page:
// every server of the page (vite here, `tinydetect federated server` in production) sends these two headers.
const crossOriginIsolation = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

export default defineConfig({
  base: "./", // the built page works under any path (the FL server serves it at /)
  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
  build: { target: "es2022", chunkSizeWarningLimit: 1024 },
  // the ONNX Runtime bundles find their .wasm beside themselves (new URL(..., import.meta.url)): keep them unbundled
  optimizeDeps: { exclude: ["onnxruntime-web"] },
});
