// Package atomicfile replaces files so that a reader sees the old content or the new, never a part:
// the data goes to a temporary file in the same directory, which is flushed, synced and closed, then
// renamed over the target, and the directory is synced so that the rename survives a crash.
//
// # Invariants
//
// On any error the target is left as it was and the temporary file is removed. The temporary file is
// named "." + base + ".tmp-" + a random suffix, so an interrupted write leaves only dot files behind.
//
// It is the project's only atomic file writer; the packages that save files (safetensors, tokenizer,
// lora, eval, the strategies) all write through it. It does not lock: two concurrent writers of one
// path each replace it whole, and the last rename wins.
package atomicfile
