"""The peer of `bin/rlhf bench rollouts`: the bench's model, prompts and training batches in PyTorch eager through
transformers, timed the way the bench times the project.

BenchStage writes a spec (JSON) and runs this script with the Python of the tools/hf-reference/requirements.txt venv
(official torch and transformers); tools/bench/peer.sh does all of it in one command. The script reads the spec, loads
the Hugging Face checkpoint the bench exported (the project's random weights), and measures, with the spec's torch
intra-op threads:

  - generation: LlamaForCausalLM.generate with its KV cache, greedy, every row made to the full new-token count
    (min_new_tokens = max_new_tokens, no eos), the spec's prompts in batches of batch_size; tokens/s = generated
    tokens / seconds, after an untimed warm-up;
  - training: `steps` plain steps (forward, cross-entropy on the scored tokens, backward, global-norm clip as the
    project's optimizer does, AdamW step) on the spec's rows in batches of train_batch_size, after as many untimed
    warm-up steps; tokens/s = predicted tokens (length - 1 per row, the count the project's SFT tokens/s uses) /
    seconds.

It writes one JSON object to the output path, with the generated ids, which the bench compares with its own greedy
rows as a check that both sides run the same model.

  "$venv/bin/python" tools/bench/peer_bench.py SPEC.json OUT.json
"""

import json
import os
import sys
import time

import torch
import transformers
from transformers import LlamaForCausalLM


def generation(model, spec):
    prompts = spec["prompt_ids"]
    batch = spec["batch_size"]
    new = spec["new_tokens"]
    pad = spec["pad_id"]

    def run(rows, max_new):
        width = max(len(r) for r in rows)
        # left padding, as a decoder-only model generates from the right edge
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new, min_new_tokens=max_new,
                             do_sample=False, num_beams=1, use_cache=True, eos_token_id=None, pad_token_id=pad)
        return out[:, width:]

    with torch.no_grad():
        run(prompts[:min(2, len(prompts))], 8)  # warm-up
        t0 = time.perf_counter()
        generated = [run(prompts[i:i + batch], new) for i in range(0, len(prompts), batch)]
        seconds = time.perf_counter() - t0
    ids = [row for g in generated for row in g.tolist()]
    tokens = sum(len(r) for r in ids)
    if tokens != len(prompts) * new:
        raise SystemExit(f"peer generated {tokens} tokens, not {len(prompts)} x {new}")
    return tokens, seconds, ids


def training(model, spec):
    t = spec["train"]
    rows = torch.tensor(t["rows"])
    labels = rows.clone()
    for i, start in enumerate(t["scored_from"]):
        labels[i, :start] = -100  # loss on the scored (completion) tokens only, as the project's SFT
    batch = t["batch_size"]
    opt = torch.optim.AdamW(model.parameters(), lr=t["lr"], betas=(t["beta1"], t["beta2"]),
                            weight_decay=t["weight_decay"])
    model.train()
    cursor = 0

    def step():
        nonlocal cursor
        if cursor + batch > rows.shape[0]:
            cursor = 0
        x = rows[cursor:cursor + batch]
        y = labels[cursor:cursor + batch]
        cursor += batch
        logits = model(input_ids=x).logits
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), y[:, 1:].reshape(-1),
                                                 ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t["grad_clip"])
        opt.step()
        return x.shape[0] * (x.shape[1] - 1), loss.item()

    for _ in range(t["steps"]):
        step()  # warm-up, untimed
    tokens = 0
    t0 = time.perf_counter()
    for _ in range(t["steps"]):
        n, loss = step()
        tokens += n
    seconds = time.perf_counter() - t0
    return tokens, seconds, loss


def main():
    spec = json.load(open(sys.argv[1]))
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    model = LlamaForCausalLM.from_pretrained(spec["checkpoint"], dtype=torch.float32).eval()
    gen_tokens, gen_seconds, gen_ids = generation(model, spec)
    train_tokens, train_seconds, last_loss = training(model, spec)
    out = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": torch.get_num_threads(),
        "attn_implementation": model.config._attn_implementation,
        # bin/rlhf pins libtorch's kernels (ATen's and MKL's) to AVX2; the peer inherits the same environment
        "kernels": {k: os.environ.get(k, "") for k in ("ATEN_CPU_CAPABILITY", "MKL_CBWR")},
        "generation_tokens": gen_tokens,
        "generation_seconds": gen_seconds,
        "generation_tokens_per_s": gen_tokens / gen_seconds,
        "train_tokens": train_tokens,
        "train_seconds": train_seconds,
        "train_tokens_per_s": train_tokens / train_seconds,
        "train_last_loss": last_loss,
        # the bench compares them with its own greedy rows: the same weights should give the same tokens
        "generated_ids": gen_ids,
    }
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
