"""Loads a checkpoint this project trained with transformers alone and checks that it behaves as the project says.

check_export.py covers random checkpoints the project saves; this script covers a trained one, and what the
project generated from it. Nothing of the project's code runs here: the model is
LlamaForCausalLM.from_pretrained(CHECKPOINT), the tokenizer the checkpoint's own tokenizer.json
(PreTrainedTokenizerFast(tokenizer_file=...)), bos and eos the ids its config.json names.

Inputs, both written by the project from the same checkpoint:
  --completions FILE   an eval stage's completions.jsonl (<lake>/runs/<run>/eval/completions.jsonl; any number):
                       the project's greedy completion text and finish_reason of every prompt
  --rollouts-table DIR the rollouts Delta table (<lake>/rollouts) and --rollouts-run RUN (any number): the rows a
                       rollouts stage of that run wrote (sampled completions with their token ids and per-token
                       log-probs). The table's Parquet files are read directly with pyarrow, after replaying its
                       _delta_log to the files of the current snapshot; only rows of the given runs are used.

Checks:
  (a) greedy: transformers' generate (do_sample=False, one beam, stop at eos, max_new_tokens as the project's eval,
      never past max_position_embeddings as the project's generator) from the prompt ids gives exactly the
      project's completion: its tokens are encode(completion) + [eos] when finish_reason is "eos". Every mismatch
      is listed with where it diverges and transformers' margin between its two best logits there.
  (b) log-probs: for every rollouts row, the sum over the completion's tokens of log_softmax(logits / T) at the
      chosen token, T = the rollouts' temperature (1 by default: the table stores log-probs under the distribution
      sampled from, and at T = 1 that is the model's own), equals the project's sum of token_logprobs within
      --seq-tolerance (absolute, per sequence; default 1e-4); the per-token maximum is reported beside it.

How the project feeds a prompt (core/.../batch/TokenSequence.java): [bos] + encode(prompt), encode without special
tokens; the generator continues from exactly those ids, and an eval of a checkpoint whose provenance names a
prompt_suffix generates from prompt + suffix (so does this script). The project's tokenizer.json carries a
TemplateProcessing post-processor that adds that bos itself; the script checks that
tokenizer(prompt).input_ids (special tokens added, as transformers users call it) equals [bos] + encode(prompt)
and that decode(ids) gives back the project's text, so a bos added twice or not at all is a failure, not a
silent shift.

Exits non-zero on any mismatch or on no rows compared. Run it in the pinned venv from the repository root:
  venv="$(tools/python/venv.sh tools/hf-reference/requirements.txt)"
  "$venv/bin/python" tools/hf-reference/check_trained.py --checkpoint CKPT \
      --completions LAKE/runs/RUN/eval/completions.jsonl --rollouts-table LAKE/rollouts --rollouts-run RUN
tools/hf-reference/check-trained.sh LAKE CHECKPOINT runs the project's eval and rollouts stages and then this.
"""

import argparse
import json
import math
import pathlib
import sys
import urllib.parse

import pyarrow.parquet as pq
import torch
import transformers
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast


def load(checkpoint):
    folder = pathlib.Path(checkpoint)
    config = json.loads((folder / "config.json").read_text())
    tok = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"))
    model = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    provenance = folder / "rlhf_provenance.json"
    suffix = json.loads(provenance.read_text()).get("prompt_suffix", "") if provenance.exists() else ""
    return config, tok, model, suffix if isinstance(suffix, str) else ""


class Ids:
    """The project's token convention, with the checkpoint's tokenizer."""

    def __init__(self, tok, config):
        self.tok = tok
        self.bos = config.get("bos_token_id")
        self.eos = config.get("eos_token_id")
        if isinstance(self.eos, list):
            self.eos = self.eos[0]
        self.special = {i for i, t in tok.added_tokens_decoder.items() if t.special}
        self.bad = []  # (what, text, detail)

    def encode(self, text):
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def prompt(self, text):
        own = ([self.bos] if self.bos is not None and self.bos >= 0 else []) + self.encode(text)
        hf = self.tok(text)["input_ids"]  # special tokens added as the tokenizer.json's post-processor says
        if hf != own:
            self.bad.append(("prompt ids", text, f"tokenizer(text) {hf} != [bos] + encode(text) {own}"))
        return own

    def completion(self, text, finish_reason):
        ids = self.encode(text) + ([self.eos] if finish_reason == "eos" else [])
        back = self.tok.decode(ids, skip_special_tokens=True)
        if back != text:
            self.bad.append(("completion round trip", text, f"decode(encode(text)) = {back!r}"))
        return ids


def greedy(model, ids, config, completions_files, max_new_tokens, suffix, show):
    max_pos = config["max_position_embeddings"]
    rows = []
    for f in completions_files:
        rows += [json.loads(l) for l in pathlib.Path(f).read_text().splitlines() if l.strip()]
    mismatches = []
    for r in rows:
        prompt = ids.prompt(r["prompt"] + suffix)
        want = ids.completion(r["completion"], r["finish_reason"])
        limit = min(max_new_tokens, max_pos - len(prompt))
        x = torch.tensor([prompt])
        with torch.no_grad():
            out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=limit, do_sample=False,
                                 num_beams=1, eos_token_id=ids.eos, pad_token_id=config.get("pad_token_id"))
        got = out[0, len(prompt):].tolist()
        if ids.eos in got:
            got = got[:got.index(ids.eos) + 1]
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([prompt + want[:at]])).logits[0, -1]
            top = logits.topk(2).values
            mismatches.append(dict(id=r["id"], prompt=r["prompt"], project=r["completion"],
                                   project_finish=r["finish_reason"],
                                   transformers=ids.tok.decode(got, skip_special_tokens=True),
                                   diverges_at=at, top2_margin=(top[0] - top[1]).item()))
    for m in mismatches[:show]:
        print(f"  greedy mismatch {m['id']} {m['prompt']!r}: project {m['project']!r} ({m['project_finish']}), "
              f"transformers {m['transformers']!r}; diverges at token {m['diverges_at']}, "
              f"transformers' top-2 logit margin there {m['top2_margin']:.3g}")
    if len(mismatches) > show:
        print(f"  ... and {len(mismatches) - show} more greedy mismatches")
    return len(rows), mismatches


def live_files(table):
    """The data files of the Delta table's current snapshot: its _delta_log replayed (checkpoint, then commits)."""
    log = pathlib.Path(table) / "_delta_log"
    files, start = {}, 0

    def apply(action):
        if "add" in action and action["add"]:
            a = action["add"]
            if a.get("deletionVector"):
                sys.exit(f"{a['path']} has a deletion vector: read this table with Delta, not its Parquet files")
            files[a["path"]] = a
        elif "remove" in action and action["remove"]:
            files.pop(action["remove"]["path"], None)

    last = log / "_last_checkpoint"
    if last.exists():
        version = json.loads(last.read_text())["version"]
        for part in sorted(log.glob(f"{version:020d}.checkpoint*.parquet")):
            for rec in pq.read_table(part, columns=["add", "remove"]).to_pylist():
                apply(rec)
        start = version + 1
    for commit in sorted(log.glob("[0-9]" * 20 + ".json")):
        if int(commit.stem) >= start:
            for line in commit.read_text().splitlines():
                if line.strip():
                    apply(json.loads(line))
    return [pathlib.Path(table) / urllib.parse.unquote(p) for p in files]


def rollouts(table, runs, stage):
    out = {}
    for f in live_files(table):
        t = pq.read_table(f, columns=["run_id", "stage", "iteration", "prompt_id", "sample_index", "prompt",
                                      "completion", "token_ids", "token_logprobs", "finish_reason"])
        for r in t.to_pylist():
            if r["run_id"] in runs and r["stage"] == stage:
                key = (r["run_id"], r["iteration"], r["prompt_id"], r["sample_index"])
                if key in out:
                    sys.exit(f"rollouts row {key} twice in the snapshot")
                out[key] = r
    return [out[k] for k in sorted(out)]


def logprobs(model, ids, rows, temperature, seq_tolerance, show):
    seq_max, tok_max, bad, inner_special = 0.0, 0.0, [], 0
    for r in rows:
        prompt = ids.prompt(r["prompt"])
        completion = list(r["token_ids"])
        # The table's text is decode(token_ids) with special tokens skipped; the ids are what was sampled, and a
        # sample at T = 1 can hold a special token (<bos>, <unk>) inside it, which the text cannot show, so the
        # ids are scored and the text checked against their decoding (not the other way round).
        text = ids.tok.decode(completion, skip_special_tokens=True)
        if text != r["completion"]:
            ids.bad.append(("rollouts text", r["completion"], f"decode(token_ids {completion}) = {text!r}"))
        if (completion[-1:] == [ids.eos]) != (r["finish_reason"] == "eos"):
            ids.bad.append(("rollouts eos", r["completion"], f"finish_reason {r['finish_reason']}, ids {completion}"))
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([prompt + completion])).logits[0].double()
        lp = torch.log_softmax(logits[len(prompt) - 1:-1] / temperature, dim=-1)
        mine = lp.gather(1, torch.tensor(completion).unsqueeze(1)).squeeze(1)
        theirs = torch.tensor(r["token_logprobs"], dtype=torch.float64)
        d_seq = abs(mine.sum().item() - theirs.sum().item())
        d_tok = (mine - theirs).abs().max().item()
        seq_max, tok_max = max(seq_max, d_seq), max(tok_max, d_tok)
        inner_special += any(t in ids.special for t in completion[:-1])
        if not d_seq <= seq_tolerance:  # also catches NaN
            bad.append((r, mine.sum().item(), theirs.sum().item(), d_seq, d_tok))
    for r, m, t, ds, dt in bad[:show]:
        print(f"  log-prob mismatch {r['run_id']}/{r['prompt_id']}#{r['sample_index']} {r['completion']!r}: "
              f"transformers {m:.6f}, project {t:.6f}, |diff| {ds:.3g} (worst token {dt:.3g})")
    if len(bad) > show:
        print(f"  ... and {len(bad) - show} more log-prob mismatches")
    return seq_max, tok_max, bad, inner_special


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--completions", action="append", default=[], help="an eval stage's completions.jsonl")
    p.add_argument("--max-new-tokens", type=int, default=160, help="the eval's eval.max_new_tokens (default 160)")
    p.add_argument("--rollouts-table", help="the lake's rollouts table folder")
    p.add_argument("--rollouts-run", action="append", default=[], help="run id whose rollouts rows to check")
    p.add_argument("--rollouts-stage", default="rollouts")
    p.add_argument("--temperature", type=float, default=1.0, help="the rollouts' temperature (default 1)")
    p.add_argument("--seq-tolerance", type=float, default=1e-4, help="absolute, per sequence's summed log-prob")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--show", type=int, default=20, help="mismatches listed of each kind")
    a = p.parse_args()
    if not a.completions and not a.rollouts_run:
        p.error("nothing to compare: give --completions and/or --rollouts-table with --rollouts-run")
    torch.set_num_threads(a.threads)
    transformers.utils.logging.disable_progress_bar()

    config, tok, model, suffix = load(a.checkpoint)
    ids = Ids(tok, config)
    print(f"checkpoint {a.checkpoint}: transformers {transformers.__version__}, torch {torch.__version__}; "
          f"vocab {config['vocab_size']}, bos {ids.bos}, eos {ids.eos}, tied embeddings "
          f"{config.get('tie_word_embeddings')}, rope_theta {config.get('rope_theta')}"
          + (f", prompt suffix {suffix!r}" if suffix else ""))
    failed = False

    n_greedy, mismatches = greedy(model, ids, config, a.completions, a.max_new_tokens, suffix, a.show)
    if a.completions:
        print(f"greedy: {n_greedy} prompts compared, {len(mismatches)} mismatches "
              f"(transformers generate vs the project's eval, max_new_tokens {a.max_new_tokens})")
        failed |= n_greedy == 0 or bool(mismatches)

    if a.rollouts_run:
        if not a.rollouts_table:
            p.error("--rollouts-run needs --rollouts-table")
        rows = rollouts(a.rollouts_table, set(a.rollouts_run), a.rollouts_stage)
        seq_max, tok_max, bad, inner_special = logprobs(model, ids, rows, a.temperature, a.seq_tolerance, a.show)
        print(f"log-probs: {len(rows)} sampled completions ({sum(len(r['token_ids']) for r in rows)} tokens, "
              f"{len({(r['run_id'], r['prompt_id']) for r in rows})} prompts) at T={a.temperature:g}; "
              f"max |delta| per sequence {seq_max:.3g}, per token {tok_max:.3g}; "
              f"{len(bad)} sequences over the tolerance {a.seq_tolerance:g}; {inner_special} hold a special token "
              f"before their end")
        failed |= not rows or bool(bad) or math.isnan(seq_max)

    for what, text, detail in ids.bad[:a.show]:
        print(f"  tokenization mismatch ({what}) {text!r}: {detail}")
    print(f"tokenization: {len(ids.bad)} mismatches (bos/eos and the round trip through tokenizer.json)")
    failed |= bool(ids.bad)
    print("FAILED" if failed else "OK: transformers agrees with the project")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
