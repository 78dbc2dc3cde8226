#!/usr/bin/env bash
# Parity with PyTorch: each shipped tiny model's logits from `vkml logits` against the training
# code's own forward (tools/train/parity.py, NMSE <= 1e-4). Needs Debian's python3-torch.
# usage: parity_tiny_models.sh VKML_BINARY SOURCE_DIR
set -euo pipefail
vkml="$1"
src="$2"
prompt="In the beginning God created"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
status=0
for model in "$src"/models/tiny/*.gguf; do
  tokens="$("$vkml" tokenize -m "$model" -p "$prompt")"
  "$vkml" logits -m "$model" --tokens "$tokens" -o "$out" 2>/dev/null
  if /usr/bin/python3 "$src/tools/train/parity.py" "$model" "$out" --text "$prompt" --bos; then
    echo "parity ok: $(basename "$model")"
  else
    echo "parity FAILED: $(basename "$model")"
    status=1
  fi
done
exit $status
