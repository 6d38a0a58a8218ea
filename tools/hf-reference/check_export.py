"""Loads the checkpoints this project writes with transformers and compares logits and greedy tokens.

HfGoldenTest saves every golden case back through HfCheckpoint.save into core/target/hf-export/<case>/,
with the input ids and the logits the project computed (expected.json, expected_logits.safetensors).
This script loads each folder with LlamaForCausalLM.from_pretrained and checks:
  - every logit within TOLERANCE of the project's;
  - the argmax at every position equal;
  - transformers' greedy generate from the first row's first ids gives the project's greedy tokens.
Exits non-zero on any mismatch. These are random checkpoints; check_trained.py does the same for a checkpoint the
project trained (greedy completions of its eval and log-probs of its rollouts, through the checkpoint's tokenizer.json).

  mvn -B -o test -pl core -Dtest=HfGoldenTest -Dsurefire.failIfNoSpecifiedTests=false
  venv="$(tools/python/venv.sh tools/hf-reference/requirements.txt)"   # or a tools/hf-reference/.venv of them
  "$venv/bin/python" tools/hf-reference/check_export.py core/target/hf-export
"""

import json
import pathlib
import sys

import safetensors.torch
import torch
from transformers import LlamaForCausalLM

TOLERANCE = 1e-4


def check(folder):
    expected = json.loads((folder / "expected.json").read_text())
    ids = torch.tensor(expected["input_ids"])
    want = safetensors.torch.load_file(folder / "expected_logits.safetensors")["logits"]
    model = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        got = model(input_ids=ids).logits
    diff = (got - want).abs().max().item()
    argmax_same = torch.equal(got.argmax(-1), want.argmax(-1))
    prefix = ids[:1, :expected["greedy_prefix"]]
    gen = model.generate(prefix, max_new_tokens=len(expected["greedy_tokens"]), do_sample=False, num_beams=1,
                         pad_token_id=0, eos_token_id=None)
    generated = gen[0, prefix.shape[1]:].tolist()
    greedy_same = generated == expected["greedy_tokens"]
    ok = diff <= TOLERANCE and argmax_same and greedy_same
    print(f"{folder.name}: max |logit transformers - project| = {diff:.3g}; argmax equal at all "
          f"{ids.numel()} positions: {argmax_same}; greedy {len(generated)} tokens equal: {greedy_same} "
          f"{generated}")
    return ok


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "core/target/hf-export")
    folders = sorted(p for p in root.iterdir() if (p / "config.json").exists())
    if not folders:
        sys.exit(f"no checkpoints under {root}: run HfGoldenTest first")
    results = [check(f) for f in folders]
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
