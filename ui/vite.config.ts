import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL(".", import.meta.url));

// The UI is always embedded in the binary (no dev server in the app): `vite build` writes
// ui/dist, which tauri.conf.json's frontendDist points at.
export default defineConfig({
  root,
  base: "./",
  plugins: [svelte()],
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "safari15",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  resolve: process.env.VITEST ? { conditions: ["browser"] } : undefined,
  test: {
    root,
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
