// The `attnkit-lab` executable (bundled by tsup with a shebang).
import { main } from "./main";

// exit explicitly: a WebGPU device or wasm worker would otherwise keep the process alive.
process.exit(await main(process.argv.slice(2)));
