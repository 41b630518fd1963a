// Public surface of src/io: safetensors, GPT-2 folders, the tiny backbone and tokenizers.
export * from "./safetensors";
export * from "./gpt2_config";
export { loadGpt2Folder, Gpt2Folder, Gpt2Weight } from "./gpt2_folder";
export * from "./tiny_gpt2";
export { TextTokenizer, defaultTokenizer, loadBpeTokenizer, BpeTokenizer, RecTokenizer } from "./tokenizer";
export { readTorchStateDict } from "./torch_bin";
export { unpickle, PyGlobal } from "./pickle";
export { openZip } from "./zip";
export { readNpy } from "./npy";
