#!/usr/bin/env bash
# fetch-tokenizers.sh DIR rebuilds the real Llama 2 and Llama 3 vocabularies for the known-answer tests
# of model/tokenizer, which are not committed (they are large). It takes them from two MIT-licensed npm
# packages that embed them, llama-tokenizer-js@1.2.2 (Llama 2) and llama3-tokenizer-js@1.2.0 (Llama 3),
# and runs each package's own code with node to write into DIR:
#
#   llama2/tokenizer.json   the Llama 2 tokenizer.json (SentencePiece-style BPE, merges as "a b" strings)
#   llama3/tokenizer.json   the Llama 3 tokenizer.json (byte-level BPE, merges as [a, b] pairs)
#   reference.json          {"strings": [...], "llama2": [[ids]...], "llama3": [[ids]...]}: each
#                           package's encode() of each string, with BOS and without EOS
#
# Then run the tests with ACCRETE_TOKENIZER_DATA=DIR. Needs npm and node (>= 18) and the npm registry.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
out=$1
mkdir -p "$out/llama2" "$out/llama3"
out=$(cd "$out" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent llama-tokenizer-js@1.2.2 llama3-tokenizer-js@1.2.0 >/dev/null)
mkdir -p "$work/l2" "$work/l3"
tar xzf "$work/llama-tokenizer-js-1.2.2.tgz" -C "$work/l2"
tar xzf "$work/llama3-tokenizer-js-1.2.0.tgz" -C "$work/l3"

cat >"$work/dump.mjs" <<'JS'
import fs from 'node:fs';
import path from 'node:path';

const [l2path, l3path, out] = process.argv.slice(2);
const llama2 = (await import(l2path)).default;
const llama3 = (await import(l3path)).default;

// Merges are kept in a Map from "a b" to a priority that grows with the merge's rank.
const mergesOf = (t) => [...t.merges.entries()].sort((x, y) => x[1] - y[1]).map(([k]) => k);
const special = (id, content) => ({id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true});
const template = (bos, id) => ({
  type: 'TemplateProcessing',
  single: [{SpecialToken: {id: bos, type_id: 0}}, {Sequence: {id: 'A', type_id: 0}}],
  pair: [{SpecialToken: {id: bos, type_id: 0}}, {Sequence: {id: 'A', type_id: 0}},
         {SpecialToken: {id: bos, type_id: 1}}, {Sequence: {id: 'B', type_id: 1}}],
  special_tokens: {[bos]: {id: bos, ids: [id], tokens: [bos]}},
});

// Llama 2: 32000 pieces, ids 0..2 are <unk>, <s>, </s>.
{
  const vocab = {};
  llama2.vocabById.forEach((s, i) => { vocab[s] = i; });
  if (llama2.vocabById.length !== 32000) throw new Error('llama2: vocab size ' + llama2.vocabById.length);
  const tj = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: {type: 'Sequence', normalizers: [
      {type: 'Prepend', prepend: '\u2581'},
      {type: 'Replace', pattern: {String: ' '}, content: '\u2581'}]},
    pre_tokenizer: null,
    post_processor: template('<s>', 1),
    decoder: {type: 'Sequence', decoders: [
      {type: 'Replace', pattern: {String: '\u2581'}, content: ' '},
      {type: 'ByteFallback'}, {type: 'Fuse'},
      {type: 'Strip', content: ' ', start: 1, stop: 0}]},
    model: {type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges: mergesOf(llama2)},
  };
  fs.writeFileSync(path.join(out, 'llama2', 'tokenizer.json'), JSON.stringify(tj));
}

// Llama 3: 128000 byte-level pieces, then 256 special tokens pushed by the package's constructor.
{
  const n = 128000;
  const vocab = {};
  const added = [];
  llama3.vocabById.forEach((s, i) => { if (i < n) vocab[s] = i; else added.push(special(i, s)); });
  if (llama3.vocabById.length !== 128256) throw new Error('llama3: vocab size ' + llama3.vocabById.length);
  const regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const tj = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {type: 'Sequence', pretokenizers: [
      {type: 'Split', pattern: {Regex: regex}, behavior: 'Isolated', invert: false},
      {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false}]},
    post_processor: {type: 'Sequence', processors: [
      {type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true},
      template('<|begin_of_text|>', 128000)]},
    decoder: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true},
    model: {type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: true,
      vocab, merges: mergesOf(llama3).map((m) => m.split(' '))},
  };
  fs.writeFileSync(path.join(out, 'llama3', 'tokenizer.json'), JSON.stringify(tj));
}

// Reference encodings. The empty string is left out: llama-tokenizer-js returns [] for it, without BOS.
const strings = [
  'Hello World',
  'Hello world! How are you?',
  ' leading space',
  '  two leading spaces',
  'trailing spaces   ',
  'multiple   spaces   inside',
  'tabs\tand\ttabs',
  'line one\nline two\n',
  '\n\n\nthree newlines',
  'windows\r\nline\r\nends',
  'spaces before newline   \n  indented',
  "I'm sure they'll've DON'T It'S we'd you're",
  'numbers 1 12 123 1234 12345678 3.14159 1,000,000',
  '2024-06-01T12:34:56Z',
  'naïve café résumé',
  'Grüße aus München, Straße',
  'Привет, мир!',
  '日本語のテキストです。',
  '한국어 문장',
  'مرحبا بالعالم',
  'emoji 😀 👍🏽 👨‍👩‍👧 🦙',
  '!!!???... ,,, ;;;',
  '<html><body class="x">hi</body></html>',
  'func main() {\n\tfmt.Println("hi")\n}\n',
  'def f(x):\n    return x ** 2\n',
  '    four spaces of code',
  'a\u00a0non-breaking space',
  'math: ∑ᵢ xᵢ² ≤ ∞, π ≈ 3.14',
  'The quick brown fox jumps over the lazy dog.',
  'MixedCASE camelCase snake_case kebab-case',
  'x  \n  y',
  '\u0301 starts with a combining mark',
];
const ref = {
  strings,
  llama2: strings.map((s) => llama2.encode(s, true, true)),
  llama3: strings.map((s) => llama3.encode(s, {bos: true, eos: false})),
};
fs.writeFileSync(path.join(out, 'reference.json'), JSON.stringify(ref, null, 1));
JS

node "$work/dump.mjs" "$work/l2/package/llama-tokenizer.js" \
	"$work/l3/package/bundle/llama3-tokenizer-with-baked-data.js" "$out"
echo "wrote $out/llama2/tokenizer.json, $out/llama3/tokenizer.json and $out/reference.json"
