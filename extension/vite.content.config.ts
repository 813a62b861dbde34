import { resolve } from "node:path";
import { defineConfig } from "vite";

// Content scripts are classic scripts (no import statements): the content script is its own one-file IIFE build.
export default defineConfig({
  publicDir: false,
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: false, // beside the main build's files
    lib: { entry: resolve(import.meta.dirname, "src/content.ts"), formats: ["iife"], name: "tinydetectContent", fileName: () => "content.js" },
  },
});
